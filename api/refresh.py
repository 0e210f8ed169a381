"""Keeps a running server's index in step with edits made directly in Neo4j.

Curators work in Neo4j Browser; reps give feedback; other replicas ingest. Every
``SKG_INDEX_REFRESH_SECONDS`` a background thread reads the graph's change feed token (counts
and the newest ``updated_at`` stamps, through indexes: milliseconds at any size,
``kg.store.ChangeFeed``); when it moved, only what changed is read, embedded and applied to a
new index generation, which is swapped in (``Services.sync_and_reload``). An edit therefore
reaches search within one interval plus the update.

Every ``SKG_INDEX_AUDIT_SECONDS`` an audit compares every atom with the index instead (the
safety net for hand edits that stamp nothing), and every ``SKG_INDEX_SAVE_SECONDS`` the
generation in memory is written to disk, so that a restart starts from it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from api import metrics
from api.state import Services
from kg.errors import GraphUnavailableError, SkgError
from kg.store import ChangeToken
from retrieval.index.change_feed import LAG_S
from retrieval.index.update import warm_up

logger = logging.getLogger(__name__)

MAX_CHECK_SHARE = 20  # the check takes at most 1/20 of the time between checks


class IndexRefresher:
    def __init__(
        self,
        services: Services,
        interval_s: float,
        *,
        audit_s: float = 0.0,
        save_s: float = 0.0,
    ) -> None:
        self._services = services
        self._interval_s = interval_s
        self._audit_s = audit_s
        self._save_s = save_s
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="index-refresh", daemon=True)
        self._seen: ChangeToken | None = None
        self._check_s = 0.0  # how long the last check took
        self._last_audit = self._last_save = time.monotonic()
        self._audit_cost = 0.0  # how long the last audit took

    def start(self) -> None:
        """Start checking; the first check also catches changes made while the server was
        down."""
        self._thread.start()

    def poke(self) -> None:
        """Check now rather than at the end of the interval (search saw a stale index)."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)

    def check(self) -> bool:
        """One round: an audit when one is due, else an update when the change feed moved.
        True when the index was brought in step."""
        now = time.monotonic()
        if self._audit_s and now - self._last_audit >= self.audit_wait_s():
            report = self._services.sync_and_reload(audit=True)
            self._last_audit = time.monotonic()
            self._audit_cost = self._last_audit - now
            logger.info(
                "index audited against the graph in %.1f s (%d added, %d changed, %d removed)",
                self._audit_cost,
                report.added,
                report.changed,
                report.removed,
            )
            self._seen = None
            return True
        current = self._token()
        if current is None or current == self._seen:
            self._save_when_due(now)
            return False
        report = self._services.sync_and_reload()
        if report.added or report.changed or report.removed or report.embedded:
            logger.info(
                "index refreshed from the graph (%d added, %d changed, %d removed, %d embedded, "
                "%d edited outside the guide, %d relinked)",
                report.added,
                report.changed,
                report.removed,
                report.embedded,
                report.edited_outside,
                report.relinked,
            )
        # What was seen before the sync: a change made while it ran (or by it, when it versions
        # an atom edited outside the guide) makes the next check sync again.
        self._seen = current
        self._save_when_due(now)
        return True

    def _save_when_due(self, now: float) -> None:
        if self._save_s and now - self._last_save >= self._save_s:
            self._last_save = now
            self._services.save_index()

    def audit_wait_s(self) -> float:
        """The time between audits: the setting, or longer on a graph where an audit is
        costly (it reads every atom), so that audits take at most 1/MAX_CHECK_SHARE of it."""
        return max(self._audit_s, MAX_CHECK_SHARE * self._audit_cost)

    def wait_s(self) -> float:
        """The time until the next check: the interval, or longer when the check is costly."""
        return max(self._interval_s, MAX_CHECK_SHARE * self._check_s)

    def _token(self) -> ChangeToken | None:
        started = time.perf_counter()
        try:
            return self._services.store.change_token(LAG_S)
        except GraphUnavailableError as exc:
            logger.warning("index refresh skipped: %s", exc)
            return None
        finally:
            stretched_before = self.wait_s() > self._interval_s
            self._check_s = time.perf_counter() - started
            metrics.INDEX_CHECK.observe(self._check_s)
            if self.wait_s() > self._interval_s and not stretched_before:
                logger.warning(
                    "the change check took %.1f s; checking every %.0f s instead of %.0f s",
                    self._check_s,
                    self.wait_s(),
                    self._interval_s,
                )

    def _loop(self) -> None:
        self._guarded(self._warm_up)
        while True:
            self._wake.wait(self.wait_s())
            self._wake.clear()
            if self._stop.is_set():
                return
            self._guarded(self.check)

    def _warm_up(self) -> None:
        warm_up(self._services.store, self._services.embedder.name)

    @staticmethod
    def _guarded(step: Callable[[], object]) -> None:
        """Run a step of the background thread: log what fails and keep refreshing."""
        try:
            step()
        except SkgError as exc:
            logger.error("index refresh failed: %s", exc)
        except Exception:
            logger.exception("index refresh failed unexpectedly")
