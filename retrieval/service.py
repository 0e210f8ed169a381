"""Search and ask: a retriever's hits joined with the atoms they point at."""

from __future__ import annotations

from dataclasses import dataclass

from kg.errors import BadQueryError
from kg.store import GraphStore, StoredAtom
from retrieval.answer import Answer, compose
from retrieval.base import Retriever

MAX_QUERY_CHARS = 500


@dataclass(frozen=True)
class SearchResult:
    atom: StoredAtom
    score: float


class SearchService:
    """The one entry point the API and the CLI use for questions."""

    def __init__(self, retriever: Retriever, store: GraphStore) -> None:
        self._retriever = retriever
        self._store = store

    def search(self, query: str, top_k: int) -> list[SearchResult]:
        query = query.strip()
        if not query:
            raise BadQueryError("问题不能为空 (the question is empty)")
        if len(query) > MAX_QUERY_CHARS:
            raise BadQueryError(
                f"问题过长，请控制在 {MAX_QUERY_CHARS} 字以内 "
                f"(the question has {len(query)} characters; the limit is {MAX_QUERY_CHARS})"
            )
        hits = self._retriever.search(query, top_k)
        scores = {h.atom_id: h.score for h in hits}
        atoms = self._store.atoms([h.atom_id for h in hits])
        return [SearchResult(atom=a, score=scores[a.atom.id]) for a in atoms]

    def ask(self, question: str, top_k: int) -> Answer:
        return compose(question.strip(), [r.atom for r in self.search(question, top_k)])
