"""Ranking metrics on graded relevance judgments (BEIR/TREC conventions).

Kept by hand on purpose. nDCG here uses the exponential gain ``2**grade - 1`` on our graded
qrels (golden and colloquial sets grade 1 and 2): trec_eval, and so pytrec_eval, uses the
linear gain ``grade``, which gives other numbers on every query with a grade-2 document. ranx's
``ndcg_burges`` uses the same gain as ours, but ranx brings about twenty packages (pandas,
matplotlib, seaborn, ir_datasets, fastparquet...) into the served install for these 40 lines.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

Qrels = Mapping[str, Mapping[str, int]]  # query id -> doc id -> grade (> 0 is relevant)


def ndcg_at(ranking: Sequence[str], judged: Mapping[str, int], k: int = 10) -> float:
    gains = [judged.get(doc, 0) for doc in ranking[:k]]
    dcg = sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(gains))
    ideal = sorted((g for g in judged.values() if g > 0), reverse=True)[:k]
    idcg = sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall_at(ranking: Sequence[str], judged: Mapping[str, int], k: int) -> float:
    relevant = {doc for doc, grade in judged.items() if grade > 0}
    return len(relevant & set(ranking[:k])) / len(relevant) if relevant else 0.0


def reciprocal_rank(ranking: Sequence[str], judged: Mapping[str, int]) -> float:
    for i, doc in enumerate(ranking, start=1):
        if judged.get(doc, 0) > 0:
            return 1.0 / i
    return 0.0


def evaluate(runs: Mapping[str, Sequence[str]], qrels: Qrels) -> dict[str, float]:
    """Mean nDCG@10, Recall@1/5/10 and MRR over the judged queries."""
    queries = [q for q in qrels if any(g > 0 for g in qrels[q].values())]
    totals = {"nDCG@10": 0.0, "R@1": 0.0, "R@5": 0.0, "R@10": 0.0, "MRR": 0.0}
    for q in queries:
        ranking, judged = runs.get(q, []), qrels[q]
        totals["nDCG@10"] += ndcg_at(ranking, judged)
        totals["R@1"] += recall_at(ranking, judged, 1)
        totals["R@5"] += recall_at(ranking, judged, 5)
        totals["R@10"] += recall_at(ranking, judged, 10)
        totals["MRR"] += reciprocal_rank(ranking, judged)
    return {name: value / len(queries) for name, value in totals.items()} if queries else totals
