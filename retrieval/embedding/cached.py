"""An ``Embedder`` that remembers recent questions, so that the dense retriever and the
feedback memory share one forward pass per question."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from retrieval.embedding.base import Embedder


class CachedQueryEmbedder:
    def __init__(self, embedder: Embedder, size: int = 1024) -> None:
        self._embedder = embedder
        self.name = embedder.name
        self.dimensions = embedder.dimensions
        self._one = lru_cache(maxsize=size)(self._embed_one)

    def _embed_one(self, text: str) -> np.ndarray:
        vector = self._embedder.embed_queries([text])[0]
        vector.setflags(write=False)  # shared between callers
        return vector

    def embed_query(self, text: str) -> np.ndarray:
        return self._one(text)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) == 1:
            return self._one(texts[0])[None, :]
        return self._embedder.embed_queries(texts)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._embedder.embed_passages(texts)
