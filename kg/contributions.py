"""Contribution (贡献度): whose knowledge is used, and how well it serves reps and deals.

A person's atoms are the atoms they own or are listed as a contributor of; each person is
credited once per atom. Atoms with neither are credited to ``UNATTRIBUTED`` so that no use of
the graph goes uncounted.

The score rewards use, not authorship (the brief asks for credit by contribution, not by who
signed). Every event is counted once per person, however many of their atoms it touched, so
splitting knowledge into more atoms, or copying it, earns nothing::

    贡献度 = answers + 3 × helpful + 5 × used_in_deal + 10 × deal_won − 2 × not_helpful

- ``answers``: distinct answers that cited at least one of their atoms (being useful at all);
- ``helpful`` (有用, 3): a rep confirmed the answer or atom helped, worth more than a citation
  the rep may have ignored;
- ``used_in_deal`` (用于商机, 5): the knowledge went into a live opportunity;
- ``deal_won`` (赢单, 10): the outcome a sales team answers for; a rep who reports use and
  then the win gives 5 + 10;
- ``not_helpful`` (没用, −2): a cost smaller than ``helpful``'s gain, so that mixed reviews
  still net positive and contributors are not scared off, while knowledge that keeps
  disappointing sinks and draws a curator's eye;
- ``deal_lost`` (丢单, 0): reported, not scored; a loss is rarely the knowledge's fault, and
  penalising it would discourage the lesson-from-a-lost-deal atoms the brief wants kept.

Atom counts and raw citation counts are reported beside the score but do not enter it.
Feedback counts one voter once per answer (or atom) and kind, so repeated clicks earn nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time

UNATTRIBUTED = "（未署名）"

WEIGHTS = {"answers": 1, "helpful": 3, "used_in_deal": 5, "deal_won": 10, "not_helpful": -2}
FORMULA = "贡献度 = 引用回答数 + 3×有用 + 5×用于商机 + 10×赢单 − 2×没用"


@dataclass(frozen=True)
class Contribution:
    """One person's atoms and how they were used (within the report's period and team)."""

    person: str
    atoms: int  # owned or contributed to, not deprecated
    approved: int
    citations: int  # CITES edges from answers to their atoms
    answers: int  # distinct answers citing at least one of their atoms
    helpful: int  # feedback on their atoms, by kind; one voter per answer (or atom) counts once
    not_helpful: int
    used_in_deal: int
    deal_won: int
    deal_lost: int

    @property
    def score(self) -> int:
        """贡献度: see the module docstring for the weights and why."""
        return sum(weight * getattr(self, name) for name, weight in WEIGHTS.items())


def rank(rows: Iterable[Contribution]) -> list[Contribution]:
    """Highest score first; ties go to wider use, then more approved atoms, then by name."""
    return sorted(
        rows,
        key=lambda c: (-c.score, -c.answers, -c.citations, -c.approved, -c.atoms, c.person),
    )


def day_start(day: date) -> datetime:
    """Midnight at the start of ``day`` in the server's time zone (``--since``, ``since=``)."""
    return datetime.combine(day, time.min).astimezone()
