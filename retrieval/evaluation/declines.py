"""How often the served path says "I don't know" (docs/retrieval.md, "Saying 'I don't know'").

Answerable questions are the golden and colloquial sets; unanswerable ones are
data/unanswerable (customers, industries and facts the knowledge lacks, chit-chat, gibberish,
prompt injection, English off topic). All are asked of the knowledge the caller gives
(benchmarks/decline_rates.py and the CI floor: the golden corpus with the graph of
data/samples), in memory, through the served retriever's ``page``, and each answer's
confidence is compared with the shipped threshold (chosen on dev by scripts/train_fusion.py).
``answered_share`` asks answerable questions of other knowledge (CMRC, KdConv) the same way.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from retrieval.embedding.base import Embedder
from retrieval.embedding.cached import CachedQueryEmbedder
from retrieval.evaluation.beir import BeirData
from retrieval.evaluation.benchmark import corpus_bundle, embed_corpus
from retrieval.retrievers.graph import GraphSnapshot
from retrieval.retrievers.hybrid import Filters
from retrieval.served import served_retriever

ANSWERED, DECLINED = "answered (answerable)", "declined (unanswerable)"


@dataclass(frozen=True)
class Asked:
    text: str
    split: str
    group: str  # the answerable question's set, or the unanswerable one's category
    answerable: bool


@dataclass(frozen=True)
class Outcomes:
    asked: list[Asked]
    confidence: list[float]
    threshold: float

    def shares(self) -> dict[tuple[str, str], tuple[float, int]]:
        """(split, group) -> (share of its questions handled right, how many): answerable
        ones answered, unanswerable ones declined; groups ANSWERED and DECLINED pool them."""
        groups: dict[tuple[str, str], list[bool]] = defaultdict(list)
        for asked, p in zip(self.asked, self.confidence, strict=True):
            right = p >= self.threshold if asked.answerable else p < self.threshold
            groups[(asked.split, ANSWERED if asked.answerable else DECLINED)].append(right)
            groups[(asked.split, asked.group)].append(right)
        return {k: (float(np.mean(v)), len(v)) for k, v in sorted(groups.items())}

    def curve(self, split: str, thresholds: list[float]) -> list[tuple[float, float, float]]:
        """(threshold, answered answerable, declined unanswerable) on one split."""
        p = np.array(self.confidence)
        answerable = np.array([a.answerable for a in self.asked])
        chosen = np.array([a.split == split for a in self.asked])
        return [
            (
                t,
                float(np.mean(p[chosen & answerable] >= t)),
                float(np.mean(p[chosen & ~answerable] < t)),
            )
            for t in thresholds
        ]


def decline_outcomes(
    data: BeirData,
    snapshot: GraphSnapshot | None,
    unanswerable: Path,
    embedder: Embedder,
    cache_dir: Path | None,
) -> Outcomes:
    """Every answerable question of ``data``'s golden and colloquial sets and every question
    of ``unanswerable`` (BEIR queries.jsonl with ``split`` and ``category``), both splits,
    asked of ``data``'s corpus and graph, with its answer's confidence."""
    asked = [
        Asked(data.queries[q], data.query_meta[q]["split"], data.query_meta[q]["set"], True)
        for q in data.qrels
        if data.query_meta[q]["set"] in ("golden", "colloquial")
    ]
    for line in unanswerable.open(encoding="utf-8"):
        if line.strip():
            row = json.loads(line)
            meta = row["metadata"]
            asked.append(Asked(row["text"], meta["split"], meta["category"], False))
    confidence, threshold = _confidences(
        data, snapshot, [a.text for a in asked], embedder, cache_dir
    )
    return Outcomes(asked, confidence, threshold)


def answered_share(data: BeirData, embedder: Embedder, cache_dir: Path | None) -> float:
    """The share of ``data``'s judged questions (answerable by construction) that the served
    path answers over ``data``'s own corpus: how the confidence carries over to knowledge
    that is not ours (the CMRC 2018 sentences)."""
    texts = [data.queries[q] for q in data.qrels if q in data.queries]
    confidence, threshold = _confidences(data, None, texts, embedder, cache_dir)
    return float(np.mean(np.array(confidence) >= threshold))


def _confidences(
    data: BeirData,
    snapshot: GraphSnapshot | None,
    texts: list[str],
    embedder: Embedder,
    cache_dir: Path | None,
) -> tuple[list[float], float]:
    """Each question's answer confidence over ``data``'s corpus, and the shipped threshold."""
    vectors, _ = embed_corpus(embedder, [d["text"] for d in data.corpus.values()], cache_dir)
    questions = (
        embedder if isinstance(embedder, CachedQueryEmbedder) else CachedQueryEmbedder(embedder)
    )
    analyzer, retriever = served_retriever(
        corpus_bundle(data, vectors, embedder.name, snapshot), questions
    )
    analyzed = [analyzer.analyze(text.strip()) for text in texts]
    questions.prime(query.dense_text for query in analyzed)
    confidence = [
        retriever.page(retriever.scope(query, None), 0, 10, Filters()).confidence
        for query in analyzed
    ]
    return confidence, retriever.threshold
