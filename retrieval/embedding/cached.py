"""An ``Embedder`` that remembers recent questions, so that the dense retriever and the
feedback memory share one forward pass per question."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

from numpy.typing import NDArray

from retrieval.embedding.base import Embedder


class CachedQueryEmbedder:
    def __init__(self, embedder: Embedder, size: int = 1024) -> None:
        self._embedder = embedder
        self.name = embedder.name
        self.dimensions = embedder.dimensions
        self._primed: dict[str, NDArray[Any]] = {}
        # A closure over the embedder and the primed vectors, not a bound method: this object
        # must not be in a reference cycle (a dropped index generation is freed by reference
        # counting alone; api/state.py freezes the heap).
        primed_vectors = self._primed

        def embed_one(text: str) -> NDArray[Any]:
            primed = primed_vectors.get(text)
            if primed is not None:
                return primed
            vector: NDArray[Any] = embedder.embed_queries([text])[0]
            vector.setflags(write=False)  # shared between callers
            return vector

        self._one = lru_cache(maxsize=size)(embed_one)

    def prime(self, texts: Iterable[str], batch_size: int = 64) -> int:
        """Embed questions ahead of their one-at-a-time calls, a batch per forward pass.

        For evaluation, which asks thousands of known questions. Primed vectors stay until the
        embedder goes (they are not evicted like the recent ones). Returns how many were new.
        """
        # Similar lengths batched together: padding is most of the work otherwise.
        new = sorted((t for t in dict.fromkeys(texts) if t not in self._primed), key=len)
        for start in range(0, len(new), batch_size):
            batch = new[start : start + batch_size]
            for text, vector in zip(batch, self._embedder.embed_queries(batch), strict=True):
                vector.setflags(write=False)
                self._primed[text] = vector
        return len(new)

    def embed_query(self, text: str) -> NDArray[Any]:
        return self._one(text)

    def embed_queries(self, texts: Sequence[str]) -> NDArray[Any]:
        if len(texts) == 1:
            return self._one(texts[0])[None, :]
        return self._embedder.embed_queries(texts)

    def embed_passages(self, texts: Sequence[str]) -> NDArray[Any]:
        return self._embedder.embed_passages(texts)
