"""An ``Embedder`` that loads its model on first use: an index sync or an ingest with nothing
to embed never pays the model's load time (a re-ingest of unchanged files writes and embeds
nothing)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from numpy.typing import NDArray

from retrieval.embedding.base import Embedder


class LazyEmbedder:
    def __init__(self, load: Callable[[], Embedder], name: str, dimensions: int) -> None:
        self._load = load
        self._embedder: Embedder | None = None
        self._lock = threading.Lock()
        self.name = name  # known without loading: the index records it
        self.dimensions = dimensions

    @property
    def loaded(self) -> bool:
        return self._embedder is not None

    def _model(self) -> Embedder:
        with self._lock:
            if self._embedder is None:
                self._embedder = self._load()
            return self._embedder

    def embed_queries(self, texts: Sequence[str]) -> NDArray[Any]:
        return self._model().embed_queries(texts)

    def embed_passages(self, texts: Sequence[str]) -> NDArray[Any]:
        return self._model().embed_passages(texts)
