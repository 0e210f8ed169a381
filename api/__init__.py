"""The service's edges: the FastAPI app, the ``skg`` CLI, settings and assembly."""
