"""Feedback on the golden set: does it move ranking the right way and not the wrong way?

Served rankings (retrieval/served.py) of the 170 golden questions (dev and test), before and
after simulated reps' votes (retrieval/evaluation/feedback_eval.py). Prints nDCG@10 on the
questions that got feedback and on those that did not.

    .venv/bin/python benchmarks/feedback_effect.py
"""

from __future__ import annotations

from pathlib import Path

from api import assembly
from api.evaluate import sales_corpus
from api.settings import Settings
from retrieval.evaluation.benchmark import SERVED, evaluate_served
from retrieval.evaluation.feedback_eval import run_feedback_experiment

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    settings = Settings()
    corpus = sales_corpus(ROOT)
    data = corpus.data
    embedder = assembly.load_embedder(settings)
    result = evaluate_served(
        data,
        embedder,
        snapshot=corpus.snapshot,
        cache_dir=settings.home / "cache" / "embeddings",
    )
    qids = [q for q in data.qrels if data.query_meta[q]["set"] == "golden"]
    runs = {q: result.runs[SERVED][q] for q in qids}
    vectors = dict(zip(qids, embedder.embed_queries([data.queries[q] for q in qids]), strict=True))
    table = run_feedback_experiment(runs, data.qrels, data.queries, vectors)
    base = table["baseline"]
    print(f"{'scenario':<18} {'seen':>8} {'Δ':>8} {'unseen':>8} {'Δ':>8}")
    for name, row in table.items():
        print(
            f"{name:<18} {row['seen']:8.3f} {row['seen'] - base['seen']:+8.3f} "
            f"{row['unseen']:8.3f} {row['unseen'] - base['unseen']:+8.3f}"
        )


if __name__ == "__main__":
    main()
