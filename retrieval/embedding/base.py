"""The ``Embedder`` interface."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray


class Embedder(Protocol):
    """Turns questions and passages into unit-length vectors of ``dimensions`` floats."""

    name: str
    dimensions: int

    def embed_queries(self, texts: Sequence[str]) -> NDArray[Any]: ...

    def embed_passages(self, texts: Sequence[str]) -> NDArray[Any]: ...


def encode_by_length(
    texts: Sequence[str],
    dimensions: int,
    batch_size: int,
    forward: Callable[[list[str]], NDArray[Any]],
) -> NDArray[Any]:
    """Run ``forward`` over ``texts`` in batches of similar length (shortest first, so each
    batch pads little) and return the vectors in the order of ``texts``."""
    out = np.zeros((len(texts), dimensions), dtype=np.float32)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        out[rows] = forward([texts[i] for i in rows])
    return out
