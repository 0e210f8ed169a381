"""Search and ask: analyse the question, retrieve (dense + lexical + graph), read the atoms,
compose the answer. The one entry point the API and the CLI use."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from kg.errors import BadQueryError
from kg.store import ServingStore, StoredAtom
from retrieval.answers.answer import Answer, compose, decline
from retrieval.query import Query, QueryAnalyzer
from retrieval.retrievers.hybrid import Filters, FusedHit, HybridRetriever

MAX_QUERY_CHARS = 500
MAX_LEADS = 3  # nearest atoms shown, marked as leads, when the answer declines


@dataclass(frozen=True)
class SearchResult:
    atom: StoredAtom
    score: float
    sources: dict[str, float]
    path: tuple[str, ...]


@dataclass(frozen=True)
class SearchResponse:
    query: Query
    results: list[SearchResult]
    total: int = 0  # candidates that passed the filters, within the retrieval depth
    offset: int = 0
    stale: int = 0  # hits the graph no longer admits (changed since the index was loaded)
    confidence: float = (
        1.0  # how sure the knowledge is of an answer (retrieval/retrievers/confidence.py)
    )
    answered: bool = True  # confidence at or above the threshold chosen on dev splits


class Polisher(Protocol):
    def polish(self, answer: Answer) -> str | None: ...


class SearchService:
    def __init__(
        self,
        analyzer: QueryAnalyzer,
        retriever: HybridRetriever,
        store: ServingStore,
        polisher: Polisher | None = None,
    ) -> None:
        self._analyzer = analyzer
        self._retriever = retriever
        self._store = store
        self._polisher = polisher

    @property
    def analyzer(self) -> QueryAnalyzer:
        return self._analyzer

    def search(
        self, text: str, top_k: int, filters: Filters | None = None, offset: int = 0
    ) -> SearchResponse:
        """Atoms ranked for a question. Without a question, the entities of the filters (a CRM
        opportunity's customer, industry, product) are the question."""
        filters = filters or Filters()
        return self.retrieve(self.understand(text, filters), top_k, filters, offset)

    def understand(self, text: str, filters: Filters | None = None) -> Query:
        """The question read with the graph's vocabulary, as the caller of ``filters`` may
        read it; ``BadQueryError`` when there is none or it is too long."""
        filters = filters or Filters()
        text = text.strip() or " ".join(e.split(":", 1)[-1] for e in sorted(filters.entities or ()))
        if not text:
            raise BadQueryError("问题不能为空 (the question is empty)")
        if len(text) > MAX_QUERY_CHARS:
            raise BadQueryError(
                f"问题过长，请控制在 {MAX_QUERY_CHARS} 字以内 "
                f"(the question has {len(text)} characters; the limit is {MAX_QUERY_CHARS})"
            )
        return self._retriever.scope(self._analyzer.analyze(text), filters)

    def retrieve(
        self, query: Query, top_k: int, filters: Filters | None = None, offset: int = 0
    ) -> SearchResponse:
        """Atoms ranked for a question already read (``understand``)."""
        filters = filters or Filters()
        page = self._retriever.page(query, offset, top_k, filters)
        # An atom whose status or visibility changed in the graph since the index was loaded
        # is dropped from the page and the count at once (the caller should refresh the index,
        # which corrects the other pages' counts too).
        results = self._join(page.hits, filters)
        stale = len(page.hits) - len(results)
        answered = bool(results) and page.confidence >= self._retriever.threshold
        return SearchResponse(
            query, results, page.total - stale, offset, stale, page.confidence, answered
        )

    def ask(
        self,
        question: str,
        top_k: int,
        filters: Filters | None = None,
        on_stale: Callable[[], None] | None = None,
    ) -> Answer:
        response = self.search(question, top_k, filters)
        if response.stale and on_stale is not None:
            on_stale()
        answer = self.compose(response)
        if answer.answered:
            answer.polished = self.polish(answer)
        return answer

    @staticmethod
    def compose(response: SearchResponse) -> Answer:
        """The answer the atoms found make, or, below the confidence threshold, the decline
        with the nearest atoms as leads (not polished: ``polish``)."""
        found = [(r.atom, r.path) for r in response.results]
        if not response.answered:
            return decline(response.query, found[:MAX_LEADS], response.confidence)
        return compose(response.query, found, response.confidence)

    def polish(self, answer: Answer) -> str | None:
        """The answer rewritten as fluent prose when a polisher is configured, else None."""
        return self._polisher.polish(answer) if self._polisher is not None else None

    def _join(self, hits: list[FusedHit], filters: Filters) -> list[SearchResult]:
        """Read the hits' atoms from the graph, checking the filters again on what it says now."""
        by_id = {h.atom_id: h for h in hits}
        return [
            SearchResult(
                stored,
                by_id[stored.atom.id].score,
                by_id[stored.atom.id].sources,
                by_id[stored.atom.id].path,
            )
            for stored in self._store.atoms([h.atom_id for h in hits])
            if filters.admits_live(stored.live_meta())
        ]
