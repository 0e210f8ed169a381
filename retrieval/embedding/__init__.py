"""Text embeddings: the ``Embedder`` interface and its implementations."""
