"""Ingest: source documents -> knowledge atoms in the graph."""
