"""Feedback on the golden set: does it move ranking the right way and not the wrong way?

Fused rankings (dense + lexical + graph) of the 170 golden questions, before and after simulated
reps' votes (retrieval/feedback_eval.py). Prints nDCG@10 on the questions that got feedback and
on those that did not.

    .venv/bin/python benchmarks/feedback_effect.py
"""

from __future__ import annotations

from pathlib import Path

from api import runtime
from api.evaluate import graph_for_corpus
from api.settings import Settings
from retrieval.beir import load_beir
from retrieval.evaluation import PRIMARY, run_evaluation
from retrieval.feedback_eval import run_feedback_experiment

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    settings = Settings()
    data = load_beir(ROOT / "data" / "golden")
    dictionary, snapshot = graph_for_corpus(data, ROOT / "data" / "samples")
    embedder = runtime.load_embedder(settings)
    result = run_evaluation(
        data,
        embedder,
        dictionary=dictionary,
        snapshot=snapshot,
        cache_dir=settings.home / "cache" / "embeddings",
    )
    qids = list(data.queries)
    vectors = dict(zip(qids, embedder.embed_queries([data.queries[q] for q in qids]), strict=True))
    table = run_feedback_experiment(result.runs[PRIMARY], data.qrels, data.queries, vectors)
    base = table["baseline"]
    print(f"{'scenario':<18} {'seen':>8} {'Δ':>8} {'unseen':>8} {'Δ':>8}")
    for name, row in table.items():
        print(
            f"{name:<18} {row['seen']:8.3f} {row['seen'] - base['seen']:+8.3f} "
            f"{row['unseen']:8.3f} {row['unseen'] - base['unseen']:+8.3f}"
        )


if __name__ == "__main__":
    main()
