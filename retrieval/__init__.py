"""Retrieval: embeddings, indexes, retrievers and answer composition."""
