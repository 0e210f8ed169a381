"""The ``Embedder`` interface."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from numpy.typing import NDArray


class Embedder(Protocol):
    """Turns questions and passages into unit-length vectors of ``dimensions`` floats."""

    name: str
    dimensions: int

    def embed_queries(self, texts: Sequence[str]) -> NDArray[Any]: ...

    def embed_passages(self, texts: Sequence[str]) -> NDArray[Any]: ...
