"""The feedback flywheel in ranking: what reps said about atoms nudges their fused scores.

Two signals, both bounded so that feedback breaks near-ties and lifts what keeps helping, and
never buries a strong match or promotes an unrelated atom (fused scores span about 0 to 1.7):

- **Per question** (feedback on an answer): the votes count for questions like the one that
  was asked (cosine ≥ ``SIMILAR``; the same question counts fully), since "not helpful for
  this question" says little about other questions. One voter moves an atom by at most 0.02,
  three agreeing voters by 0.058, ten by 0.15, any number by less than ``QUESTION_WEIGHT``
  (0.2). Chosen on the golden set (docs/retrieval.md): stronger settings learn faster from
  honest votes but let a single wrong vote cost more.
- **Per atom** (feedback given on an atom itself, deal outcomes): a Bayesian-smoothed approval
  rate pulled towards neutral by ``PRIOR_VOTES`` pseudo-votes, moving the score by at most
  ``WEIGHT / 2`` (0.1); one vote moves it by 0.009.

Votes are counted per distinct voter (a user, else a key): one person clicking ten times is
one vote. ``retrieval/evaluation/feedback_eval.py`` measures both effects on the golden set.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

PRIOR_VOTES = 10.0
WEIGHT = 0.2
QUESTION_WEIGHT = 0.2
SIMILAR = 0.9  # e5-small cosine: paraphrases sit above it, other questions below
SATURATION = 10.0  # voters at which the per-question effect reaches tanh(1) of its maximum
# How much each kind of event counts for (positive) or against (negative) an atom.
POSITIVE = {"helpful": 1.0, "used_in_deal": 2.0, "deal_won": 3.0}
NEGATIVE = {"not_helpful": 1.0, "deal_lost": 1.0}
SIGN = {**dict.fromkeys(POSITIVE, 1.0), **dict.fromkeys(NEGATIVE, -1.0)}
MEMORY_FILE = "feedback.json"
VECTORS_FILE = "feedback.npy"


@dataclass(frozen=True)
class FeedbackCounts:
    """Distinct voters per kind of feedback on one atom."""

    helpful: int = 0
    not_helpful: int = 0
    used_in_deal: int = 0
    deal_won: int = 0
    deal_lost: int = 0

    @classmethod
    def from_mapping(cls, counts: Mapping[str, int]) -> FeedbackCounts:
        return cls(**{k: int(counts.get(k, 0)) for k in cls.__dataclass_fields__})


def prior(counts: FeedbackCounts) -> float:
    """The atom's smoothed approval rate minus neutral: in (-0.5, 0.5), 0 without feedback."""
    positive = sum(getattr(counts, kind) * w for kind, w in POSITIVE.items())
    negative = sum(getattr(counts, kind) * w for kind, w in NEGATIVE.items())
    rate: float = (positive + 0.5 * PRIOR_VOTES) / (positive + negative + PRIOR_VOTES)
    return rate - 0.5


@dataclass(frozen=True)
class Vote:
    atom_id: str
    voter: str
    sign: float  # +1 helped, -1 did not


@dataclass
class FeedbackMemory:
    """Questions that got feedback on their answers, and the votes on each answer's atoms."""

    questions: list[str] = field(default_factory=list)
    vectors: NDArray[Any] = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))
    votes: list[list[Vote]] = field(default_factory=list)  # per question

    def bonus(self, query_vector: NDArray[Any]) -> dict[str, float]:
        """Score adjustments for a question, from the votes on similar questions."""
        if not self.questions:
            return {}
        similarity = self.vectors @ query_vector
        best: dict[tuple[str, str], float] = {}  # (atom, voter) -> strongest vote
        for index in np.flatnonzero(similarity >= SIMILAR):
            closeness = (float(similarity[index]) - SIMILAR) / (1.0 - SIMILAR)
            for vote in self.votes[index]:
                key = (vote.atom_id, vote.voter)
                value = min(1.0, closeness) * vote.sign
                if abs(value) > abs(best.get(key, 0.0)):
                    best[key] = value
        totals: dict[str, float] = defaultdict(float)
        for (atom_id, _), value in best.items():
            totals[atom_id] += value
        return {a: QUESTION_WEIGHT * math.tanh(t / SATURATION) for a, t in totals.items()}

    def save(self, directory: Path) -> None:
        data = {
            "questions": self.questions,
            "votes": [[[v.atom_id, v.voter, v.sign] for v in votes] for votes in self.votes],
        }
        (directory / MEMORY_FILE).write_text(json.dumps(data, ensure_ascii=False))
        np.save(directory / VECTORS_FILE, self.vectors)

    @classmethod
    def load(cls, directory: Path) -> FeedbackMemory:
        if not (directory / MEMORY_FILE).exists():
            return cls()
        data = json.loads((directory / MEMORY_FILE).read_text())
        return cls(
            questions=data["questions"],
            vectors=np.load(directory / VECTORS_FILE),
            votes=[[Vote(a, v, float(s)) for a, v, s in votes] for votes in data["votes"]],
        )


def memory_from_events(
    events: Sequence[tuple[str, str, str, str]], embed: Callable[[list[str]], NDArray[Any]]
) -> FeedbackMemory:
    """``(question, atom id, kind, voter)`` rows into a memory; ``embed`` embeds questions."""
    by_question: dict[str, list[Vote]] = defaultdict(list)
    for question, atom_id, kind, voter in events:
        if kind in SIGN and question:
            by_question[question].append(Vote(atom_id, voter, SIGN[kind]))
    questions = sorted(by_question)
    vectors = (
        np.asarray(embed(questions), dtype=np.float32)
        if questions
        else np.zeros((0, 0), dtype=np.float32)
    )
    return FeedbackMemory(questions, vectors, [by_question[q] for q in questions])


def rerank(
    ranked: Sequence[tuple[str, float]], bonus: Mapping[str, float]
) -> list[tuple[str, float]]:
    """Fused ``(atom id, score)`` pairs with feedback bonuses added, best first."""
    if not bonus:
        return list(ranked)
    adjusted = [(atom_id, score + bonus.get(atom_id, 0.0)) for atom_id, score in ranked]
    return sorted(adjusted, key=lambda pair: -pair[1])


def atom_bonus(priors: Mapping[str, float]) -> dict[str, float]:
    return {atom_id: WEIGHT * p for atom_id, p in priors.items()}
