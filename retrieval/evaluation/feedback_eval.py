"""Does feedback move ranking the right way, and never the wrong way? Simulated reps on a
judged set (the golden set) vote on answers; the votes become the feedback memory
(``retrieval/feedback.py``), and the fused rankings are evaluated before and after.

Scenarios, each on fixed rankings so the only change is the feedback:

- ``honest``: for half of the questions (the even-numbered ones), three reps vote on the top
  five atoms: 有用 on the relevant ones, 没用 on the others. Measured on those questions asked
  again and on the other half (questions nobody gave feedback on).
- ``one_vote_against``: one rep marks every relevant top-five atom 没用 and every other one 有用.
- ``noise``: three reps vote at random on the top five.
- ``many_against``: ten reps all vote the wrong way (the bound on what feedback can do).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from retrieval.evaluation.ranking_metrics import Qrels, evaluate
from retrieval.feedback import memory_from_events, rerank

TOP = 5
NOISE_SEEDS = tuple(range(1, 11))
Ranking = Sequence[tuple[str, float]]


@dataclass(frozen=True)
class Scenario:
    name: str
    voters: int
    honest: bool | None  # True: votes follow the judgments; False: against them; None: random


SCENARIOS = (
    Scenario("honest", 3, True),
    Scenario("one_vote_against", 1, False),
    Scenario("noise", 3, None),
    Scenario("many_against", 10, False),
)


def split(qids: Sequence[str]) -> tuple[list[str], list[str]]:
    """Questions with feedback, and questions without (alternating, by sorted id)."""
    ordered = sorted(qids)
    return ordered[::2], ordered[1::2]


def votes(
    runs: Mapping[str, Ranking],
    qrels: Qrels,
    questions: Mapping[str, str],
    qids: Sequence[str],
    scenario: Scenario,
    seed: int = 7,
) -> list[tuple[str, str, str, str]]:
    """``(question, atom id, kind, voter)`` events, as the graph would hold them."""
    rng = random.Random(seed)
    events = []
    for qid in qids:
        for atom_id, _ in runs.get(qid, [])[:TOP]:
            relevant = qrels.get(qid, {}).get(atom_id, 0) > 0
            for voter in range(scenario.voters):
                good = rng.random() < 0.5 if scenario.honest is None else relevant
                if scenario.honest is False:
                    good = not relevant
                kind = "helpful" if good else "not_helpful"
                events.append((questions[qid], atom_id, kind, f"rep-{voter}"))
    return events


def ndcg(runs: Mapping[str, Ranking], qrels: Qrels, qids: Sequence[str]) -> float:
    chosen = {q: [atom for atom, _ in runs[q]] for q in qids if q in runs}
    return evaluate(chosen, {q: qrels[q] for q in qids if q in qrels})["nDCG@10"]


def run_feedback_experiment(
    runs: Mapping[str, Ranking],
    qrels: Qrels,
    questions: Mapping[str, str],
    vectors: Mapping[str, NDArray[Any]],
) -> dict[str, dict[str, float]]:
    """nDCG@10 per scenario on the questions with feedback (``seen``) and without
    (``unseen``), next to the baseline without feedback. ``vectors``: each question's
    embedding (the same model the service embeds questions with)."""
    judged = [q for q in runs if q in qrels]
    seen, unseen = split(judged)
    by_text = {questions[q]: vectors[q] for q in runs}
    results = {"baseline": {"seen": ndcg(runs, qrels, seen), "unseen": ndcg(runs, qrels, unseen)}}
    for scenario in SCENARIOS:
        # Random votes are averaged over several draws; the other scenarios do not vary.
        seeds = NOISE_SEEDS if scenario.honest is None else NOISE_SEEDS[:1]
        totals = {"seen": 0.0, "unseen": 0.0}
        for seed in seeds:
            events = votes(runs, qrels, questions, seen, scenario, seed)
            memory = memory_from_events(events, lambda qs: np.asarray([by_text[q] for q in qs]))
            adjusted = {q: rerank(r, memory.bonus(vectors[q])) for q, r in runs.items()}
            totals["seen"] += ndcg(adjusted, qrels, seen) / len(seeds)
            totals["unseen"] += ndcg(adjusted, qrels, unseen) / len(seeds)
        results[scenario.name] = totals
    return results
