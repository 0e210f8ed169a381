"""Evaluate the served ranking on BEIR-format data, beside each of its retrievers alone.

The corpus becomes an in-memory ``IndexBundle`` built the way ``skg index sync`` builds one
(FAISS over the passages' vectors, BM25 over title and text, the graph snapshot when one is
given; every document an approved, public atom). Each question is ranked by the retriever
``retrieval/served.py`` assembles for the API, through the call the API makes
(``HybridRetriever.page``), so ``served`` is what a rep gets. Nothing touches the sales graph.

Systems: ``dense``, ``lexical`` and ``graph`` (with a graph) alone, each to depth 100
(``HybridRetriever.run_all``); ``rrf(dense,lexical)``, a fixed reference fusion; ``served``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from retrieval.embedding.base import Embedder
from retrieval.embedding.cached import CachedQueryEmbedder
from retrieval.evaluation.beir import BeirData
from retrieval.evaluation.ranking_metrics import Qrels, evaluate
from retrieval.index.bundle import IndexBundle
from retrieval.retrievers.base import Hit
from retrieval.retrievers.dense import FaissIndex
from retrieval.retrievers.graph import GraphSnapshot
from retrieval.retrievers.hybrid import Filters
from retrieval.retrievers.lexical import LexicalIndex
from retrieval.served import served_retriever
from retrieval.tokenize import tokenize

logger = logging.getLogger(__name__)

DEPTH = 100
RRF = "rrf(dense,lexical)"
SERVED = "served"
EMBED_CHUNK = 256  # passages per call: progress steps, and a bound on the padding of a batch

Ranking = list[tuple[str, float]]


@dataclass
class EvalResult:
    runs: dict[str, dict[str, Ranking]]  # system -> query id -> top DEPTH (doc id, score)
    qrels: Qrels
    seconds: dict[str, float] = field(default_factory=dict)  # stage -> wall seconds
    cached: bool = False  # the corpus vectors came from the cache

    def metrics(self, qids: Iterable[str] | None = None) -> dict[str, dict[str, float]]:
        """system -> nDCG@10, R@1, R@5, R@10, MRR over ``qids`` (default: every judged query)."""
        chosen = self.qrels if qids is None else {q: self.qrels[q] for q in qids}
        return {
            system: evaluate({q: [d for d, _ in r] for q, r in ranked.items()}, chosen)
            for system, ranked in self.runs.items()
        }


def embed_corpus(
    embedder: Embedder,
    texts: Sequence[str],
    cache_dir: Path | None,
    on_progress: Callable[[int, int], None] | None = None,
) -> tuple[NDArray[Any], bool]:
    """Passage vectors, cached by model name and corpus content; and whether they were cached.

    Passages are embedded shortest first, so each batch holds similar lengths (padding to the
    longest of a batch is most of the work otherwise), then put back in corpus order.
    """
    digest = hashlib.sha256("\x1e".join(texts).encode("utf-8")).hexdigest()[:16]
    cache = cache_dir / f"{embedder.name}-{digest}.npy" if cache_dir else None
    if cache and cache.exists():
        return np.load(cache), True
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    vectors = np.zeros((len(texts), embedder.dimensions), dtype=np.float32)
    for start in range(0, len(order), EMBED_CHUNK):
        rows = order[start : start + EMBED_CHUNK]
        vectors[rows] = embedder.embed_passages([texts[i] for i in rows])
        if on_progress:
            on_progress(min(start + EMBED_CHUNK, len(order)), len(order))
    if cache:
        cache.parent.mkdir(parents=True, exist_ok=True)
        partial = cache.with_suffix(".partial")
        with partial.open("wb") as f:
            np.save(f, vectors)
        os.replace(partial, cache)
    return vectors, False


def corpus_bundle(
    data: BeirData, vectors: NDArray[Any], model: str, snapshot: GraphSnapshot | None = None
) -> IndexBundle:
    """The index bundle ``skg index sync`` would write if the corpus were approved, public atoms:
    dense vectors of the text, lexical tokens of title and text, and the graph (or none)."""
    ids = list(data.corpus)
    titles_texts = {i: [d["title"], d["text"]] for i, d in data.corpus.items()}
    tokens = {i: tokenize(f"{title}\n{text}") for i, (title, text) in titles_texts.items()}
    graph = snapshot or GraphSnapshot()
    atoms = {
        i: {
            "type": graph.atoms.get(i, {}).get("type") or d.get("type", ""),
            "status": "approved",
            "visibility": "public",
            "team": "",
            "owner": "",
        }
        for i, d in data.corpus.items()
    }
    return IndexBundle(
        dense=FaissIndex.build(ids, [1] * len(ids), vectors, model),
        lexical=LexicalIndex.from_tokens(ids, list(tokens.values())),
        graph=replace(graph, atoms=atoms),
        versions=dict.fromkeys(ids, 1),
        tokens=tokens,
        texts=titles_texts,
    )


def rrf(lists: Iterable[Sequence[Hit]], k: int = 60) -> Ranking:
    """Unweighted reciprocal-rank fusion (k = 60): the fixed baseline, whatever ``served`` does."""
    scores: dict[str, float] = defaultdict(float)
    for hits in lists:
        for rank, hit in enumerate(hits, start=1):
            scores[hit.atom_id] += 1 / (k + rank)
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))


def evaluate_served(
    data: BeirData,
    embedder: Embedder,
    *,
    snapshot: GraphSnapshot | None = None,
    cache_dir: Path | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> EvalResult:
    """Rank every judged question of ``data`` with the served retriever and its members.

    ``embedder`` may be a ``CachedQueryEmbedder`` shared between calls, so questions asked of
    several corpora are embedded once. ``progress(stage, done, total)`` follows the passage
    embedding (``"Passages"``, skipped when cached) and the ranking (``"Questions"``).
    """
    seconds: dict[str, float] = {}
    clock = time.perf_counter()
    texts = [d["text"] for d in data.corpus.values()]
    vectors, cached = embed_corpus(
        embedder, texts, cache_dir, (lambda *a: progress("Passages", *a)) if progress else None
    )
    seconds["corpus_vectors"], clock = time.perf_counter() - clock, time.perf_counter()

    bundle = corpus_bundle(data, vectors, embedder.name, snapshot)
    questions = (
        embedder if isinstance(embedder, CachedQueryEmbedder) else CachedQueryEmbedder(embedder)
    )
    analyzer, retriever = served_retriever(bundle, questions)
    seconds["indexes"], clock = time.perf_counter() - clock, time.perf_counter()

    # As SearchService.search: the question read, then as the caller may see it (everything).
    qids = [q for q in data.qrels if q in data.queries]
    queries = {q: retriever.scope(analyzer.analyze(data.queries[q].strip()), None) for q in qids}
    # Every text the dense retriever will embed, in batches now; it then finds them cached.
    questions.prime(query.dense_text for query in queries.values())
    seconds["question_vectors"], clock = time.perf_counter() - clock, time.perf_counter()

    members = ["dense", "lexical"] + (["graph"] if snapshot is not None else [])
    runs: dict[str, dict[str, Ranking]] = {name: {} for name in [*members, RRF, SERVED]}
    for done, (qid, query) in enumerate(queries.items(), start=1):
        lists = retriever.run_all(query, DEPTH)
        for name in members:
            runs[name][qid] = [(h.atom_id, h.score) for h in lists[name]]
        runs[RRF][qid] = rrf([lists["dense"], lists["lexical"]])[:DEPTH]
        # The API's first page of DEPTH hits, default filters.
        hits = retriever.page(query, 0, DEPTH, Filters()).hits
        runs[SERVED][qid] = [(h.atom_id, h.score) for h in hits]
        if progress:
            progress("Questions", done, len(qids))
    seconds["ranking"] = time.perf_counter() - clock
    logger.info("ranked %d questions over %d documents", len(qids), len(texts))
    return EvalResult(runs, data.qrels, seconds, cached)
