"""Who may see which atom, and who may do what.

An atom is ``public`` (everyone), ``team`` (keys of the atom's team) or ``private`` (its owner).
A caller is a ``Viewer``: the team and user an API key was issued to, and the key's scopes.
The same rule is applied inside retrieval (candidates are filtered before ranking is cut to
``top_k``, so counts and pages never include hidden atoms) and again on every atom read back
from the graph, so a visibility changed in Neo4j takes effect before the index is synced.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class Scope(StrEnum):
    """What an API key may do."""

    SEARCH = "search"  # search, read atoms and entities, give feedback
    ASK = "ask"  # composed answers, typed and spoken; feedback
    INGEST = "ingest"  # upload documents, read ingest jobs
    ADMIN = "admin"  # every ingest job, operator endpoints


@dataclass(frozen=True)
class Viewer:
    """The caller an API key stands for."""

    key_id: str
    name: str
    scopes: frozenset[Scope] = field(default_factory=frozenset)
    team: str | None = None
    user: str | None = None

    def can_see(self, atom: Mapping[str, object]) -> bool:
        """Whether this caller may see an atom, given its ``visibility``, ``team`` and ``owner``.

        Unknown or missing visibility is treated as private: a mistake hides, never leaks.
        """
        visibility = atom.get("visibility") or "public"
        if visibility == "public":
            return True
        if visibility == "team":
            return self.team is not None and atom.get("team") == self.team
        return self.user is not None and atom.get("owner") == self.user

    def allows(self, scope: Scope) -> bool:
        return scope in self.scopes


# Used only when SKG_AUTH_REQUIRED=false: reads public atoms, asks, gives feedback.
ANONYMOUS = Viewer(
    key_id="anonymous", name="anonymous", scopes=frozenset({Scope.SEARCH, Scope.ASK})
)
