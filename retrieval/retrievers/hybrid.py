"""Hybrid retrieval: dense, lexical and graph retrievers, fused, filtered and diversified."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any, Literal, NamedTuple

import numpy as np
from numpy.typing import NDArray

from kg.models import SEARCHABLE_STATUSES
from retrieval.feedback import FeedbackMemory, atom_bonus, rerank
from retrieval.query import Query
from retrieval.retrievers.base import Hit, Retriever
from retrieval.retrievers.confidence import ConfidenceModel, question_signals
from retrieval.retrievers.fusion import mmr, reciprocal_rank, weighted_scores
from retrieval.retrievers.graph import GraphSnapshot
from retrieval.retrievers.ranker import (
    Candidates,
    FusionModel,
    candidate_features,
    load_confidence,
    prf_features,
)
from retrieval.visibility import EntityScope

# The weights of the earlier fixed fusion of min-max scaled scores, kept as a baseline for
# evaluation (``method="weighted"``); the server ranks with the learned fusion
# (retrieval/retrievers/ranker.py, docs/retrieval.md).
DEFAULT_WEIGHTS = {"dense": 1.0, "lexical": 0.5, "graph": 0.2}
# Learned scores are scaled per question onto the range the fixed fusion's scores had, so that
# feedback bonuses (retrieval/feedback.py, at most 0.2) keep their measured effect.
FUSED_SPAN = sum(DEFAULT_WEIGHTS.values())


@dataclass(frozen=True)
class Filters:
    """Which atoms may be returned. ``None`` means no restriction on that field."""

    types: frozenset[str] | None = None
    statuses: frozenset[str] | None = SEARCHABLE_STATUSES
    entities: frozenset[str] | None = None  # atom must mention one of these (customer, industry)
    visibilities: frozenset[str] | None = None  # e.g. only "public" atoms
    allow: Callable[[Mapping[str, str]], bool] | None = None  # the caller's access rules

    def admits(self, atom_id: str, meta: dict[str, str], mentions: Collection[str]) -> bool:
        if self.types is not None and meta.get("type") not in self.types:
            return False
        if self.visibilities is not None and meta.get("visibility") not in self.visibilities:
            return False
        if self.statuses is not None and meta.get("status") not in self.statuses:
            return False
        if self.entities is not None and self.entities.isdisjoint(mentions):
            return False
        return self.allow is None or self.allow(meta)

    def admits_live(self, meta: dict[str, str]) -> bool:
        """The checks that depend on an atom's current fields, not on what it mentions."""
        if self.statuses is not None and meta.get("status") not in self.statuses:
            return False
        return self.allow is None or self.allow(meta)


@dataclass(frozen=True)
class FusedHit:
    atom_id: str
    score: float
    sources: dict[str, float] = field(default_factory=dict)
    path: tuple[str, ...] = ()


@dataclass(frozen=True)
class Evidence:
    """The learned fusion's candidates and their raw scores, for the answer's confidence."""

    candidates: Candidates
    scores: NDArray[Any]


class Page(NamedTuple):
    hits: list[FusedHit]
    total: int  # candidates that passed the filters, within the retrieval depth
    confidence: (
        float  # 0-1: how sure the knowledge is of an answer (retrieval/retrievers/confidence.py)
    )


class HybridRetriever:
    """Runs each retriever to ``depth``, fuses, filters, then diversifies to ``top_k``."""

    name = "hybrid"

    def __init__(
        self,
        retrievers: Mapping[str, Retriever],
        snapshot: GraphSnapshot,
        *,
        method: Literal["learned", "weighted", "rrf"] = "learned",
        weights: Mapping[str, float] | None = None,
        ranker: FusionModel | None = None,
        confidence: ConfidenceModel | None = None,
        atom_tokens: Mapping[str, Sequence[str]] | None = None,
        atom_texts: Mapping[str, Sequence[str]] | None = None,
        idf: Callable[[str], float | None] | None = None,
        depth: int = 100,
        diversity: float = 0.0,
        vector: Callable[[str], NDArray[Any] | None] | None = None,
        memory: FeedbackMemory | None = None,
        query_vector: Callable[[str], NDArray[Any]] | None = None,
        vectors: Callable[[Sequence[str]], NDArray[Any]] | None = None,
    ) -> None:
        """``method="learned"`` ranks with ``ranker`` (default: the shipped model), which
        needs each atom's lexical terms (``atom_tokens``), title and text (``atom_texts``) and the
        terms' IDF (``idf``); its second stage (pseudo-relevance feedback) needs the question's
        vector (``query_vector``) and the candidates' (``vectors``), and is skipped without."""
        self._retrievers = dict(retrievers)
        self._snapshot = snapshot
        self._method = method
        self._ranker = ranker or (FusionModel.load() if method == "learned" else None)
        self._confidence_model = confidence or (
            load_confidence() if method == "learned" and ranker is None else None
        )
        self._atom_tokens = atom_tokens or {}
        # The term sets of atoms candidates keep coming back to (a ranker feature): building
        # them anew was a fifth of a search's fusion time.
        tokens = self._atom_tokens  # not ``self``: no reference cycle (see served.py)
        self._token_set = lru_cache(maxsize=20_000)(
            lambda atom_id: frozenset(tokens.get(atom_id, ()))
        )
        self._atom_texts = atom_texts or {}
        self._idf = idf or (lambda _: None)
        self._weights = dict(weights or DEFAULT_WEIGHTS)
        self._depth = depth
        self._diversity = diversity
        self._vector = vector or (lambda _: None)
        self._memory = memory or FeedbackMemory()
        self._query_vector = query_vector
        self._vectors = vectors
        # What each atom mentions, for entity filters: the snapshot's, kept by its deltas (a
        # copy per generation cost a second and 200 MB at a million atoms).
        self._atom_mentions = snapshot.atom_entities()

    def _resolve(self, filters: Filters) -> Filters:
        """Entity filters may name entities (宁德时代, CATL) instead of giving their ids."""
        if not filters.entities:
            return filters
        ids = set()
        for value in filters.entities:
            if value in self._snapshot.names:
                ids.add(value)
            else:
                ids |= {
                    i
                    for i, name in self._snapshot.names.items()
                    if value == name or value in self._snapshot.aliases.get(i, [])
                }
        return replace(filters, entities=frozenset(ids))

    def scope(self, query: Query, filters: Filters | None) -> Query:
        """The query as the caller of ``filters`` may read it: recognised entities, and graph
        walks, only through names and relations the caller may see (retrieval/visibility.py).
        """
        if filters is None or filters.allow is None:
            return query
        return query.scoped(EntityScope(self._snapshot, filters.allow))

    def run_all(self, query: Query, depth: int | None = None) -> dict[str, list[Hit]]:
        """Each retriever's own ranking (for evaluation and explanations)."""
        return {n: r.search(query, depth or self._depth) for n, r in self._retrievers.items()}

    def fuse(self, query: Query, lists: Mapping[str, list[Hit]]) -> list[tuple[str, float]]:
        """One ranking from the retrievers' lists, best first."""
        return self._fuse(query, lists)[0]

    def _fuse(
        self, query: Query, lists: Mapping[str, list[Hit]]
    ) -> tuple[list[tuple[str, float]], Evidence | None]:
        """The ranking, and with the learned fusion the evidence behind it (for confidence)."""
        if self._method == "rrf":
            return reciprocal_rank(lists, self._weights), None
        if self._method == "weighted" or self._ranker is None:
            return weighted_scores(lists, self._weights), None
        candidates = candidate_features(
            query.text,
            query.search_tokens,
            lists,
            self._token_set,
            self._idf,
            lambda atom_id: "\n".join(self._atom_texts.get(atom_id, ())),
        )
        scores = self._ranker.scores(candidates.features)
        # Confidence reads the first stage: its scores separate answerable questions better
        # than the second stage's (docs/retrieval.md).
        evidence = Evidence(candidates, scores)
        if (
            self._ranker.prf is not None
            and self._vectors is not None
            and self._query_vector is not None
            and lists.get("dense")  # nothing to feed back without dense search
        ):
            extended = np.hstack(
                [
                    candidates.features,
                    prf_features(
                        scores,
                        self._query_vector(query.dense_text),
                        self._vectors(candidates.ids),
                    ),
                ]
            )
            scores = self._ranker.rescored(extended)
        if not len(scores):
            return [], evidence
        low, span = float(scores.min()), float(scores.max() - scores.min())
        scaled = (
            (scores - low) / span * FUSED_SPAN if span > 0 else np.full_like(scores, FUSED_SPAN)
        )
        order = np.argsort(-scaled, kind="stable")
        return [(candidates.ids[i], float(scaled[i])) for i in order], evidence

    @property
    def threshold(self) -> float:
        """The confidence below which an answer declines (0 without a confidence model)."""
        return self._confidence_model.threshold if self._confidence_model else 0.0

    def confidence(self, query: Query, evidence: Evidence | None, visible: set[str]) -> float:
        """How sure the knowledge is of an answer from the atoms the caller may see (1.0 when
        no confidence model is shipped or the fusion is not the learned one)."""
        if self._confidence_model is None or evidence is None:
            return 1.0
        keep = [i for i, atom_id in enumerate(evidence.candidates.ids) if atom_id in visible]
        subset = Candidates(
            [evidence.candidates.ids[i] for i in keep],
            evidence.candidates.features[keep],
            evidence.candidates.signals,
        )
        signals = question_signals(
            subset,
            evidence.scores[keep],
            query.text,
            [e.surface for e in query.entities],
            terms=query.tokens,
            names=[n for e in query.entities for n in (e.surface, e.name)],
            atom_tokens=self._token_set,
            idf=self._idf,
        )
        return self._confidence_model.probability(signals)

    def _feedback(self, query: Query) -> dict[str, float]:
        """Score bonuses from feedback: on the atoms, and on answers to similar questions."""
        bonus = atom_bonus(self._snapshot.priors)
        if self._memory.questions and self._query_vector is not None:
            for atom_id, value in self._memory.bonus(self._query_vector(query.text)).items():
                bonus[atom_id] = bonus.get(atom_id, 0.0) + value
        return bonus

    def search(self, query: Query, top_k: int, filters: Filters | None = None) -> list[FusedHit]:
        return self.page(query, 0, top_k, filters).hits

    def page(self, query: Query, offset: int, limit: int, filters: Filters | None = None) -> Page:
        """Hits ``offset`` to ``offset + limit`` of the fused ranking, how many candidates
        passed the filters (the caller's access rules included, so hidden atoms are never
        counted), and how sure the knowledge is of an answer from those candidates."""
        filters = self._resolve(filters or Filters())
        lists = self.run_all(query)
        ranking, evidence = self._fuse(query, lists)
        fused = [
            (atom_id, score)
            for atom_id, score in rerank(ranking, self._feedback(query))
            if filters.admits(
                atom_id,
                self._snapshot.atoms.get(atom_id, {}),
                self._atom_mentions.get(atom_id, ()),
            )
        ]
        chosen = mmr(fused, self._vector, offset + limit, self._diversity)[offset:]
        sources = {name: {h.atom_id: h.score for h in hits} for name, hits in lists.items()}
        paths = {h.atom_id: h.path for h in lists.get("graph", [])}
        hits = [
            FusedHit(
                atom_id,
                score,
                {n: s[atom_id] for n, s in sources.items() if atom_id in s},
                paths.get(atom_id, ()),
            )
            for atom_id, score in chosen
        ]
        confidence = self.confidence(query, evidence, {atom_id for atom_id, _ in fused})
        return Page(hits, len(fused), confidence)
