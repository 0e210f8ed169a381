"""An ``Embedder`` that embeds passages ahead of time, while ingest is still parsing and
writing: ``prefetch`` hands texts to one background thread, and ``embed_passages`` later takes
their vectors instead of computing them again. Used by ``skg ingest``: the index sync that
follows finds most of its work done (docs/benchmarks.md, Encoders).

Texts prefetched but never asked for (an atom whose text did not change after all) cost only
their embedding; vectors are handed out once and then dropped.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from retrieval.embedding.base import Embedder

logger = logging.getLogger(__name__)

BATCH = 32
DRAIN = 64  # handed-over parts taken together at most


class PrefetchingEmbedder:
    def __init__(self, inner: Embedder, batch: int = BATCH) -> None:
        self._inner = inner
        self._batch = batch
        self.name = inner.name
        self.dimensions = inner.dimensions
        self._ready: dict[str, NDArray[Any]] = {}
        self._lock = threading.Lock()
        self._queue: queue.Queue[list[str] | None] = queue.Queue()
        self._failed: BaseException | None = None
        self._thread: threading.Thread | None = None

    def prefetch(self, texts: Sequence[str]) -> None:
        """Embed ``texts`` in the background (returns at once)."""
        if not texts:
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="prefetch-passages", daemon=True)
            self._thread.start()
        self._queue.put(list(texts))

    def _run(self) -> None:
        stop = False
        while not stop:
            # Ingest hands over a document's atoms at a time (often a handful): what is waiting
            # is taken together, so the encoder sees full, length-sorted batches.
            waiting = [self._queue.get()]
            while len(waiting) < DRAIN:
                try:
                    waiting.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stop = None in waiting
            texts = [t for part in waiting if part is not None for t in part]
            try:
                if self._failed is None and texts:
                    self._embed(texts)
            # Any failure (a model that cannot load, a bad text) only costs the head start: the
            # index sync embeds what is missing, and its errors surface there.
            except Exception as exc:  # noqa: BLE001
                logger.warning("embedding ahead failed; the index sync embeds instead: %s", exc)
                self._failed = exc
            finally:
                for _ in waiting:
                    self._queue.task_done()

    def _embed(self, texts: list[str]) -> None:
        with self._lock:
            todo = sorted({t for t in texts if t not in self._ready}, key=len)
        for start in range(0, len(todo), self._batch):
            chunk = todo[start : start + self._batch]
            vectors = self._inner.embed_passages(chunk)
            with self._lock:
                self._ready.update(zip(chunk, vectors, strict=True))

    def close(self) -> None:
        """Stop the background thread once what was handed over is done."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None

    def embed_queries(self, texts: Sequence[str]) -> NDArray[Any]:
        return self._inner.embed_queries(texts)

    def embed_passages(self, texts: Sequence[str]) -> NDArray[Any]:
        if self._thread is not None:
            self._queue.join()  # what was prefetched is ready (or failed)
        with self._lock:
            found = {t: self._ready.pop(t) for t in set(texts) if t in self._ready}
        missing = [t for t in dict.fromkeys(texts) if t not in found]
        if missing:
            found.update(zip(missing, self._inner.embed_passages(missing), strict=True))
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        return np.stack([found[t] for t in texts]).astype(np.float32, copy=False)
