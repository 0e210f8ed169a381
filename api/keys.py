"""API keys: issued and revoked with the CLI, stored hashed in Neo4j, checked per request.

A key reads ``skg_<id>_<secret>``. Only the SHA-256 of the whole key is stored (keys are
random 32-byte secrets, so a slow password hash would add nothing). Checked keys are trusted
for ``cache_seconds``; a revoked key stops working within that time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kg.access import Scope, Viewer
from kg.errors import AuthenticationError, ConfigError
from kg.service_store import KeyStore

KEY_PATTERN = re.compile(r"^skg_([0-9a-f]{8})_[A-Za-z0-9_-]{20,}$")


@dataclass(frozen=True)
class KeyRecord:
    id: str
    name: str
    scopes: list[str]
    team: str | None
    user: str | None
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def viewer(self) -> Viewer:
        return Viewer(
            key_id=self.id,
            name=self.name,
            scopes=frozenset(Scope(s) for s in self.scopes),
            team=self.team,
            user=self.user,
        )


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class ApiKeys:
    """Create, list, revoke and verify API keys."""

    def __init__(self, store: KeyStore, cache_seconds: float = 30.0) -> None:
        self._store = store
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, Viewer]] = {}
        self._lock = threading.Lock()

    def create(
        self,
        name: str,
        scopes: list[str],
        team: str | None = None,
        user: str | None = None,
    ) -> tuple[KeyRecord, str]:
        """A new key; the plaintext is returned once and never stored."""
        if not name.strip():
            raise ConfigError("an API key needs a name (who or what uses it)")
        try:
            checked = sorted({Scope(s).value for s in scopes})
        except ValueError as exc:
            raise ConfigError(f"{exc}; scopes are {', '.join(s.value for s in Scope)}") from exc
        if not checked:
            raise ConfigError(f"give at least one scope: {', '.join(s.value for s in Scope)}")
        key_id = secrets.token_hex(4)
        key = f"skg_{key_id}_{secrets.token_urlsafe(32)}"
        self._store.create_api_key(
            key_id,
            name=name.strip(),
            digest=_digest(key),
            scopes=checked,
            team=team or None,
            user=user or None,
        )
        record = self.get(key_id)
        assert record is not None
        return record, key

    def get(self, key_id: str) -> KeyRecord | None:
        row = self._store.api_key(key_id)
        return _record(row) if row else None

    def list(self) -> list[KeyRecord]:
        return [_record(r) for r in self._store.api_keys()]

    def revoke(self, key_id: str) -> bool:
        """True when an active key was revoked."""
        revoked = self._store.revoke_api_key(key_id)
        with self._lock:
            self._cache = {k: v for k, v in self._cache.items() if v[1].key_id != key_id}
        return revoked

    def verify(self, key: str) -> Viewer:
        """The caller a presented key stands for; ``AuthenticationError`` if it is not valid."""
        digest = _digest(key)
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(digest)
        if cached and cached[0] > now:
            return cached[1]
        match = KEY_PATTERN.match(key)
        row = self._store.api_key(match.group(1)) if match else None
        if not row or not hmac.compare_digest(row["hash"], digest):
            raise AuthenticationError("API 密钥无效 (unknown API key)")
        record = _record(row)
        if not record.active:
            raise AuthenticationError("API 密钥已被吊销 (the API key was revoked)")
        viewer = record.viewer()
        self._store.touch_api_key(record.id)  # once per cache period
        with self._lock:
            self._cache[digest] = (now + self._cache_seconds, viewer)
        return viewer


def _record(r: dict[str, Any]) -> KeyRecord:
    return KeyRecord(
        id=r["id"],
        name=r["name"],
        scopes=list(r["scopes"]),
        team=r["team"],
        user=r["user"],
        created_at=r["created_at"],
        revoked_at=r["revoked_at"],
        last_used_at=r["last_used_at"],
    )
