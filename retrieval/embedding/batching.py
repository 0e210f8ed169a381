"""An ``Embedder`` that embeds concurrent questions together.

A served process answers many requests at once, and each asks the encoder for one question's
vector. The encoder runs one inference at a time, so under load questions queue behind each
other, one forward pass each. Here one thread runs the encoder: it takes every question waiting
when it is free and embeds them as one batch (a batch of 8 short questions costs about twice
one, not eight times). An idle server adds no wait: a lone question is embedded at once.
Measured in docs/benchmarks.md "Encoders".
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from typing import Any

from numpy.typing import NDArray

from retrieval.embedding.base import Embedder

logger = logging.getLogger(__name__)


class BatchingEmbedder:
    def __init__(self, embedder: Embedder, max_batch: int = 16) -> None:
        self._embedder = embedder
        self._max_batch = max_batch
        self.name = embedder.name
        self.dimensions = embedder.dimensions
        self._waiting: queue.SimpleQueue[tuple[str, Future[NDArray[Any]]]] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="question-batches", daemon=True)
        self._thread.start()

    def embed_queries(self, texts: Sequence[str]) -> NDArray[Any]:
        if len(texts) != 1:  # already a batch
            return self._embedder.embed_queries(texts)
        done: Future[NDArray[Any]] = Future()
        self._waiting.put((texts[0], done))
        return done.result()[None, :]

    def embed_passages(self, texts: Sequence[str]) -> NDArray[Any]:
        return self._embedder.embed_passages(texts)

    def _run(self) -> None:
        while True:
            batch = [self._waiting.get()]
            while len(batch) < self._max_batch:
                try:
                    batch.append(self._waiting.get_nowait())
                except queue.Empty:
                    break
            try:
                vectors = self._embedder.embed_queries([text for text, _ in batch])
            except BaseException as exc:  # noqa: BLE001 -- each caller gets the encoder's error
                for _, done in batch:
                    done.set_exception(exc)
                continue
            for (_, done), vector in zip(batch, vectors, strict=True):
                done.set_result(vector)
