"""Retrievers over the index and how their rankings are fused: dense (FAISS), lexical (BM25),
graph (walks from recognised entities), and the hybrid that fuses, filters and ranks them."""
