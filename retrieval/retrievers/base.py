"""The ``Retriever`` interface and its result type."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from retrieval.query import Query


@dataclass(frozen=True)
class Hit:
    """One atom found by one retriever, with that retriever's score.

    ``path`` names the graph path that made the atom relevant (graph retrieval only), e.g.
    ``("宁德时代", "动力电池", "比亚迪")``.
    """

    atom_id: str
    score: float
    retriever: str
    path: tuple[str, ...] = ()


class Retriever(Protocol):
    """Finds the atoms that best answer a question, best first."""

    name: str

    def search(self, query: Query, top_k: int) -> list[Hit]: ...
