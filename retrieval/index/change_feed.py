"""Where an index stands in the graph's change feed (``kg.store.ChangeFeed``, issue 15)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kg.store import ChangeToken

LAG_S = 120  # atoms stamped this long before the last token are read again


@dataclass
class FeedState:
    """What an index knows of the change feed: the token it is in step with, the stamps of
    the atoms it read in the lag window, each graph atom's mention count, and the graph's
    atoms it does not hold (deprecated, or without a vector)."""

    token: ChangeToken
    stamps: dict[str, int] = field(default_factory=dict)
    mentions: dict[str, int] = field(default_factory=dict)
    others: set[str] = field(default_factory=set)

    def to_json(self) -> dict[str, Any]:
        return {
            "token": vars(self.token),
            "stamps": self.stamps,
            "mentions": self.mentions,
            "others": sorted(self.others),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FeedState:
        return cls(
            ChangeToken(**data["token"]),
            {k: int(v) for k, v in data["stamps"].items()},
            {k: int(v) for k, v in data["mentions"].items()},
            set(data["others"]),
        )


def since_ms(token: ChangeToken) -> int:
    return (token.atom_ms or 0) - LAG_S * 1000


def feed_state(
    token: ChangeToken,
    stamps: dict[str, int],
    mentions: Iterable[tuple[str, str]],
    graph_atoms: set[str],
    indexed: set[str],
) -> FeedState:
    """The feed state of a bundle a full sync built from the graph as of ``token``, with the
    ``stamps`` of the lag window read before the graph was."""
    counts: dict[str, int] = dict.fromkeys(graph_atoms, 0)
    for atom_id, _ in mentions:
        if atom_id in counts:
            counts[atom_id] += 1
    return FeedState(token, stamps, counts, graph_atoms - indexed)
