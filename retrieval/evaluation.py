"""Evaluate each retriever and their fusions on BEIR-format data, in isolation.

The corpus is indexed in memory (dense vectors cached on disk by model and corpus), never
mixed into the sales graph. The graph retriever takes part only when a graph snapshot for the
corpus is given (the golden set's comes from parsing data/samples).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kg.dictionary import EntityDictionary
from retrieval.base import Hit
from retrieval.beir import BeirData
from retrieval.dense import DenseRetriever, FaissIndex
from retrieval.embedding.base import Embedder
from retrieval.fusion import reciprocal_rank, weighted_scores
from retrieval.graph import GraphRetriever, GraphSnapshot
from retrieval.hybrid import DEFAULT_WEIGHTS
from retrieval.lexical import LexicalIndex, LexicalRetriever
from retrieval.metrics import evaluate
from retrieval.query import QueryAnalyzer

logger = logging.getLogger(__name__)

DEPTH = 100


@dataclass(frozen=True)
class Fusion:
    """A named fusion of some retrievers."""

    name: str
    method: str  # "rrf" or "weighted"
    members: tuple[str, ...]

    def fuse(self, lists: dict[str, list[Hit]]) -> list[tuple[str, float]]:
        chosen = {n: lists[n] for n in self.members if n in lists}
        if self.method == "rrf":
            return reciprocal_rank(chosen, {n: 1.0 for n in chosen})
        return weighted_scores(chosen, DEFAULT_WEIGHTS)


FUSIONS = (
    Fusion("rrf(dense+lexical)", "rrf", ("dense", "lexical")),
    Fusion("hybrid(dense+lexical)", "weighted", ("dense", "lexical")),
    Fusion("rrf(all)", "rrf", ("dense", "lexical", "graph")),
    Fusion("hybrid(all)", "weighted", ("dense", "lexical", "graph")),
)
PRIMARY = "hybrid(all)"


@dataclass
class EvalResult:
    metrics: dict[str, dict[str, float]]  # system -> metric -> value
    runs: dict[str, dict[str, list[tuple[str, float]]]]  # system -> qid -> ranking


def embed_corpus(embedder: Embedder, texts: Sequence[str], cache_dir: Path | None) -> np.ndarray:
    """Passage vectors, cached by model name and corpus content."""
    digest = hashlib.sha256("\x1e".join(texts).encode("utf-8")).hexdigest()[:16]
    cache = cache_dir / f"{embedder.name}-{digest}.npy" if cache_dir else None
    if cache and cache.exists():
        return np.load(cache)
    vectors = embedder.embed_passages(texts)
    if cache:
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.save(cache, vectors)
    return vectors


def mentions_from_text(
    corpus: dict[str, dict[str, str]], dictionary: EntityDictionary
) -> list[tuple[str, str]]:
    return [
        (doc_id, entity_id)
        for doc_id, doc in corpus.items()
        for entity_id in dictionary.entity_ids(f"{doc['title']}\n{doc['text']}")
    ]


def run_evaluation(
    data: BeirData,
    embedder: Embedder,
    *,
    dictionary: EntityDictionary | None = None,
    snapshot: GraphSnapshot | None = None,
    cache_dir: Path | None = None,
    on_query: Callable[[], None] | None = None,
) -> EvalResult:
    ids = list(data.corpus)
    texts = [
        f"{d['title']}\n{d['text']}" if d["title"] and d["title"] not in d["text"] else d["text"]
        for d in data.corpus.values()
    ]
    vectors = embed_corpus(embedder, texts, cache_dir)
    dense = DenseRetriever(embedder, FaissIndex.build(ids, [1] * len(ids), vectors, embedder.name))
    lexical = LexicalRetriever(LexicalIndex.build(ids, texts))
    retrievers = {"dense": dense, "lexical": lexical}
    if snapshot is not None:
        retrievers["graph"] = GraphRetriever(snapshot)
    analyzer = QueryAnalyzer(dictionary or EntityDictionary([]))

    runs: dict[str, dict[str, list[tuple[str, float]]]] = {}
    for qid, text in data.queries.items():
        if qid not in data.qrels:
            continue
        query = analyzer.analyze(text)
        lists = {name: r.search(query, DEPTH) for name, r in retrievers.items()}
        for name, hits in lists.items():
            runs.setdefault(name, {})[qid] = [(h.atom_id, h.score) for h in hits]
        for fusion in FUSIONS:
            if all(m in lists for m in fusion.members):
                runs.setdefault(fusion.name, {})[qid] = fusion.fuse(lists)[:DEPTH]
        if on_query:
            on_query()
    metrics = {
        system: evaluate({q: [d for d, _ in r] for q, r in ranked.items()}, data.qrels)
        for system, ranked in runs.items()
    }
    return EvalResult(metrics, runs)
