"""The ``Retriever`` interface and its result type."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Hit:
    """One atom found by one retriever, with that retriever's score."""

    atom_id: str
    score: float
    retriever: str


class Retriever(Protocol):
    """Finds the atoms that best answer a question, best first."""

    name: str

    def search(self, query: str, top_k: int) -> list[Hit]: ...
