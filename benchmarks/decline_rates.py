"""How often the served path says "I don't know": the share of unanswerable questions it
declines and of answerable ones it answers, per split and per category, at the shipped
threshold (chosen on dev by scripts/train_fusion.py), and the trade-off curve on test.

Answerable: the golden and colloquial questions; unanswerable: data/unanswerable. All asked of
the sample knowledge (data/golden/corpus.jsonl with the graph of data/samples), in memory.

    .venv/bin/python benchmarks/decline_rates.py [--json OUT]
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from api import assembly
from api.evaluate import graph_for_corpus, merged, named_set
from api.settings import Settings
from retrieval.embedding.cached import CachedQueryEmbedder
from retrieval.evaluation.beir import load_splits
from retrieval.evaluation.benchmark import corpus_bundle, embed_corpus
from retrieval.retrievers.hybrid import Filters
from retrieval.served import served_retriever

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    settings = Settings()
    embedder = assembly.load_embedder(settings)
    corpus = ROOT / "data" / "golden" / "corpus.jsonl"
    data = merged(
        named_set(load_splits(ROOT / "data" / "golden"), "golden"),
        named_set(load_splits(ROOT / "data" / "colloquial", corpus=corpus), "colloquial"),
    )
    _, snapshot = graph_for_corpus(data, ROOT / "data" / "samples")
    vectors, _ = embed_corpus(
        embedder,
        [d["text"] for d in data.corpus.values()],
        settings.home / "cache" / "embeddings",
    )
    questions = CachedQueryEmbedder(embedder)
    analyzer, retriever = served_retriever(
        corpus_bundle(data, vectors, embedder.name, snapshot), questions
    )
    asked = [
        (q, data.queries[q], data.query_meta[q]["split"], data.query_meta[q]["set"], True)
        for q in data.qrels
    ]
    for line in (ROOT / "data" / "unanswerable" / "queries.jsonl").open(encoding="utf-8"):
        row = json.loads(line)
        meta = row["metadata"]
        asked.append((row["_id"], row["text"], meta["split"], meta["category"], False))
    analyzed = [analyzer.analyze(text.strip()) for _, text, *_ in asked]
    questions.prime(query.dense_text for query in analyzed)
    confidence = [
        retriever.page(retriever.scope(query, None), 0, 10, Filters()).confidence
        for query in analyzed
    ]
    threshold = retriever.threshold
    groups: dict[tuple[str, str], list[bool]] = defaultdict(list)
    for (_, _, split, group, answerable), p in zip(asked, confidence, strict=True):
        kind = "answered (answerable)" if answerable else "declined (unanswerable)"
        groups[(split, kind)].append(p >= threshold if answerable else p < threshold)
        groups[(split, group)].append(p >= threshold if answerable else p < threshold)
    print(f"threshold {threshold:.3f} (chosen on dev)")
    figures = {}
    for (split, group), outcomes in sorted(groups.items()):
        figures[f"{split}/{group}"] = {"share": float(np.mean(outcomes)), "n": len(outcomes)}
        print(f"  {split:<5} {group:<26} {np.mean(outcomes):.3f}  (n={len(outcomes)})")
    p = np.array(confidence)
    answerable = np.array([a for *_, a in asked])
    test = np.array([split == "test" for _, _, split, *_ in asked])
    print("trade-off on test: threshold  answered(answerable)  declined(unanswerable)")
    curve = []
    for t in np.round(np.linspace(0.05, 0.95, 19), 2):
        answered = float(np.mean(p[test & answerable] >= t))
        declined = float(np.mean(p[test & ~answerable] < t))
        curve.append({"threshold": float(t), "answered": answered, "declined": declined})
        print(f"  {t:.2f}  {answered:.3f}  {declined:.3f}")
    if args.json:
        args.json.write_text(
            json.dumps({"threshold": threshold, "groups": figures, "test_curve": curve}, indent=1)
        )


if __name__ == "__main__":
    main()
