"""How often the served path says "I don't know": the share of unanswerable questions it
declines and of answerable ones it answers, per split and per category, at the shipped
threshold (chosen on dev by scripts/train_fusion.py), and the trade-off curve on test
(retrieval/evaluation/declines.py); and the share of the test questions of CMRC 2018 and KdConv
(answerable, over their own knowledge) that it answers.

    .venv/bin/python benchmarks/decline_rates.py [--json OUT]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from api import assembly
from api.evaluate import sales_corpus
from api.settings import Settings
from retrieval.evaluation.beir import cmrc_to_beir, kdconv_to_beir
from retrieval.evaluation.declines import answered_share, decline_outcomes

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    settings = Settings()
    embedder, cache = assembly.load_embedder(settings), settings.home / "cache" / "embeddings"
    sales = sales_corpus(ROOT)
    unanswerable = ROOT / "data" / "unanswerable" / "queries.jsonl"
    outcomes = decline_outcomes(sales.data, sales.snapshot, unanswerable, embedder, cache)
    print(f"threshold {outcomes.threshold:.3f} (chosen on dev)")
    cmrc = ROOT / "data" / "eval" / "cmrc2018" / "cmrc2018_trial.json"
    kdconv = ROOT / "data" / "eval" / "kdconv_travel"
    other_sets = {
        "cmrc-untitled": cmrc_to_beir(cmrc, "sentence", titled=False),
        "cmrc-titled": cmrc_to_beir(cmrc, "sentence", titled=True),
        "kdconv": kdconv_to_beir(kdconv / "kb_travel.json", kdconv / "dev.json"),
    }
    others = {}
    for name, data in other_sets.items():
        others[name] = answered_share(data.only("test"), embedder, cache)
        n = len(data.only("test").qrels)
        print(f"  test  {name:<26} {others[name]:.3f} answered  (n={n})")
    figures = {}
    for (split, group), (share, n) in outcomes.shares().items():
        figures[f"{split}/{group}"] = {"share": share, "n": n}
        print(f"  {split:<5} {group:<26} {share:.3f}  (n={n})")
    print("trade-off on test: threshold  answered(answerable)  declined(unanswerable)")
    thresholds = [float(t) for t in np.round(np.linspace(0.05, 0.95, 19), 2)]
    curve = []
    for t, answered, declined in outcomes.curve("test", thresholds):
        curve.append({"threshold": t, "answered": answered, "declined": declined})
        print(f"  {t:.2f}  {answered:.3f}  {declined:.3f}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "threshold": outcomes.threshold,
                    "groups": figures,
                    "other_test_answered": others,
                    "test_curve": curve,
                },
                indent=1,
            )
        )


if __name__ == "__main__":
    main()
