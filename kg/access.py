"""Who may see which atom, who may write which document, and who may do what.

**Reading.** An atom is ``public`` (everyone), ``team`` (keys of the atom's team) or
``private`` (its owner). Any other value, a missing one included, counts as ``private``: a
mistake hides an atom from all but its owner, never shows it to everyone. A caller is a
``Viewer``: the team and user an API key was issued to, and the key's scopes. The same rule is
applied inside retrieval (candidates are filtered before ranking is cut to ``top_k``, so counts
and pages never include hidden atoms), again on every atom read back from the graph (so a
visibility changed in Neo4j takes effect before the index is synced), and in the Cypher of
``kg.queries`` that counts or lists what a caller may see (``VISIBLE_ATOM``).

**Writing.** A ``Writer`` is who ingests documents. The operator (the CLI, or an ``admin`` key)
writes the organisation's own documents, and front matter is taken as written. Any other
``ingest`` key writes only in its own namespace (its team's, or its user's when it has no
team): a document's identity includes that namespace, so a same-named file of another team is
another document. What such a file claims (团队, 负责人, 可见范围, 状态, in front matter or in
records) is checked against what the key may grant: no other team or owner, and no approval.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from kg.errors import PermissionDeniedError


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

        Unknown or missing visibility is treated as private (its owner only): a mistake hides,
        never leaks. ``VISIBLE_ATOM`` in ``kg.queries`` is the same rule in Cypher.
        """
        visibility = atom.get("visibility")
        if visibility == "public":
            return True
        if visibility == "team":
            return self.team is not None and atom.get("team") == self.team
        return self.user is not None and atom.get("owner") == self.user

    def allows(self, scope: Scope) -> bool:
        return scope in self.scopes


@dataclass(frozen=True)
class Writer:
    """Who writes documents, and what their files may claim (see the module docstring)."""

    namespace: str | None  # None: the organisation's own documents (CLI, admin keys)
    team: str | None = None
    user: str | None = None
    trusted: bool = False  # front matter and records are taken as written
    label: str = "ingest"  # who changed an atom, in its history

    @classmethod
    def operator(cls) -> Writer:
        return cls(namespace=None, trusted=True)

    @classmethod
    def for_key(cls, viewer: Viewer) -> Writer:
        """The writer an API key stands for; an ``ingest`` key needs a team or a user."""
        if viewer.allows(Scope.ADMIN):
            return cls(None, viewer.team, viewer.user, trusted=True, label=f"key:{viewer.key_id}")
        if not viewer.allows(Scope.INGEST):
            raise PermissionDeniedError("该密钥没有 ingest 权限 (the key lacks the ingest scope)")
        if viewer.team:
            namespace = f"team:{viewer.team}"
        elif viewer.user:
            namespace = f"user:{viewer.user}"
        else:
            raise PermissionDeniedError(
                "该密钥未绑定团队或个人，不能导入文档；请管理员创建带 --team 或 --user 的密钥 "
                "(an ingest key needs a team or a user)"
            )
        return cls(namespace, viewer.team, viewer.user, label=f"key:{viewer.key_id}")

    @property
    def may_approve(self) -> bool:
        """Only the operator and admin keys approve; curators approve in Neo4j Browser."""
        return self.trusted


# Used only when SKG_AUTH_REQUIRED=false: reads public atoms, asks, gives feedback.
ANONYMOUS = Viewer(
    key_id="anonymous", name="anonymous", scopes=frozenset({Scope.SEARCH, Scope.ASK})
)
