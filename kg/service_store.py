"""What the running service needs from the graph beyond ``GraphStore``, by role.

``api/keys.py`` takes a ``KeyStore``, ``api/jobs.py`` a ``JobStore``, ``api/signals.py`` and
``api/pushes.py`` a ``PushStore``; the service's state holds an ``AppStore``, which is all of
them. ``kg/neo4j_store.py`` implements it.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any, Protocol

from kg.access import Viewer
from kg.contributions import Contribution
from kg.store import ChangeFeed


class KeyStore(Protocol):
    """API keys, stored hashed (``api/keys.py``)."""

    def create_api_key(
        self,
        key_id: str,
        *,
        name: str,
        digest: str,
        scopes: Sequence[str],
        team: str | None,
        user: str | None,
    ) -> None: ...

    def api_key(self, key_id: str) -> dict[str, Any] | None: ...

    def api_keys(self) -> list[dict[str, Any]]: ...

    def revoke_api_key(self, key_id: str) -> bool: ...

    def touch_api_key(self, key_id: str) -> None: ...


class JobStore(Protocol):
    """The API's ingest jobs, so every worker reads their state (``api/jobs.py``)."""

    def create_job(self, job_id: str, **fields: Any) -> None: ...

    def update_job(
        self, job_id: str, state: str, report: str | None = None, error: str | None = None
    ) -> None: ...

    def job(self, job_id: str) -> dict[str, Any] | None: ...

    def jobs(
        self, key_id: str | None, offset: int, limit: int
    ) -> tuple[list[dict[str, Any]], int]: ...

    def unfinished_jobs(self) -> list[dict[str, Any]]: ...

    def claim_job(self, job_id: str, previous: str | None, worker: str) -> bool: ...

    def abandon_job(self, job_id: str, error: str) -> None: ...


class ConversationStore(Protocol):
    """Conversations and their turns, per API key (follow-up questions)."""

    def last_turn(self, conversation_id: str, key_id: str) -> dict[str, Any] | None: ...

    def start_conversation(
        self, conversation_id: str, key_id: str, team: str | None, user: str | None, **turn: Any
    ) -> int: ...

    def add_turn(self, conversation_id: str, key_id: str, **turn: Any) -> int | None: ...

    def conversation(
        self, conversation_id: str, key_id: str, limit: int
    ) -> dict[str, Any] | None: ...

    def delete_old_conversations(self, days: int, limit: int = 1000) -> int: ...


class PushStore(Protocol):
    """Push rules, opportunities and pushes for CRMs (``api/signals.py``, ``api/pushes.py``)."""

    def seed_push_rules(self, rules: Sequence[dict[str, Any]]) -> int: ...

    def push_rules(self) -> list[dict[str, Any]]: ...

    def replace_push_rules(self, rules: Sequence[dict[str, Any]], by: str) -> None: ...

    def record_opportunity(self, key: str, **fields: Any) -> dict[str, Any]: ...

    def create_push(self, row: dict[str, Any], per_hour: int) -> str: ...

    def claim_pushes(self, worker: str, limit: int, lease_s: float) -> list[dict[str, Any]]: ...

    def finish_push(
        self,
        push_id: str,
        worker: str,
        state: str,
        *,
        status: int | None = None,
        error: str | None = None,
        retry_s: float | None = None,
    ) -> bool: ...

    def pushes(
        self,
        namespace: str | None,
        offset: int,
        limit: int,
        opportunity_id: str | None = None,
        state: str | None = None,
    ) -> tuple[list[dict[str, Any]], int]: ...


class KnowledgeStore(Protocol):
    """What the API's knowledge, feedback, review and operations routes read and write."""

    def ping(self) -> None: ...

    def server_info(self) -> dict[str, str]: ...

    def flag_stale(self, days: int) -> int: ...

    def caption_atoms(self) -> int: ...

    def atom_neighbourhood(self, atom_id: str) -> tuple[list[dict[str, Any]], list[str]]: ...

    def entity(self, entity_id: str, viewer: Viewer) -> dict[str, Any] | None: ...

    def entity_relations(
        self, entity_id: str, limit: int, viewer: Viewer
    ) -> list[dict[str, Any]]: ...

    def entity_atoms(self, entity_id: str, statuses: Collection[str]) -> list[dict[str, Any]]: ...

    def find_entities(
        self, q: str | None, kind: str | None, offset: int, limit: int, viewer: Viewer
    ) -> tuple[list[dict[str, Any]], int]: ...

    def record_answer(
        self,
        answer_id: str,
        question: str,
        intent: str,
        atom_ids: Sequence[str],
        *,
        answered: bool = True,
        confidence: float = 1.0,
        leads: Sequence[str] = (),
        **who: Any,
    ) -> None: ...

    def gaps(
        self, since: datetime, offset: int, limit: int
    ) -> tuple[list[dict[str, Any]], int]: ...

    def answer_atoms(self, answer_id: str) -> list[str] | None: ...

    def record_feedback(
        self,
        feedback_id: str,
        kind: str,
        atom_ids: Sequence[str],
        answer_id: str | None,
        **fields: Any,
    ) -> str: ...

    def contributions(
        self, since: datetime | None = None, team: str | None = None
    ) -> list[Contribution]: ...

    def review_atoms(
        self, kind: str, viewer: Viewer, offset: int, limit: int, days: int
    ) -> tuple[list[dict[str, Any]], int]: ...


class AppStore(
    ChangeFeed, KeyStore, JobStore, ConversationStore, PushStore, KnowledgeStore, Protocol
):
    """Everything the running service needs (``api/state.py``); ``Neo4jGraphStore`` is one."""
