"""Keeps a running server's index in step with edits made directly in Neo4j.

Curators work in Neo4j Browser; reps give feedback. Every ``SKG_INDEX_REFRESH_SECONDS`` a
background thread asks Neo4j for a fingerprint of everything search depends on (atoms, their
text, status and visibility, entities and aliases, links, feedback); when it changed, the
index is synced (only changed atoms are embedded) and swapped in. An edit therefore reaches
search within one interval plus the sync time.

The check reads every atom in Neo4j (0.8 s at 100k atoms, docs/benchmarks.md). On a graph
so large that it would take more than 1/``MAX_CHECK_SHARE`` of the interval, the wait grows
to keep the check at that share of the time.
"""

from __future__ import annotations

import logging
import threading
import time

from api import metrics
from api.state import Services
from kg.errors import GraphUnavailableError, SkgError

logger = logging.getLogger(__name__)

MAX_CHECK_SHARE = 20  # the check takes at most 1/20 of the time between checks


class IndexRefresher:
    def __init__(self, services: Services, interval_s: float) -> None:
        self._services = services
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="index-refresh", daemon=True)
        self._seen: str | None = None
        self._check_s = 0.0  # how long the last check took

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
        """One round: refresh when the graph changed. True when it did."""
        current = self._fingerprint()
        if current is None or current == self._seen:
            return False
        report = self._services.sync_and_reload()
        logger.info(
            "index refreshed from the graph (%d embedded, %d edited outside the guide, "
            "%d relinked)",
            report.embedded,
            report.edited_outside,
            report.relinked,
        )
        # What was seen before the sync: a change made while it ran (or by it, when it versions
        # an atom edited outside the guide) makes the next check sync again.
        self._seen = current
        return True

    def wait_s(self) -> float:
        """The time until the next check: the interval, or longer when the check is costly."""
        return max(self._interval_s, MAX_CHECK_SHARE * self._check_s)

    def _fingerprint(self) -> str | None:
        started = time.perf_counter()
        try:
            return self._services.store.graph_fingerprint()
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
        while True:
            self._wake.wait(self.wait_s())
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.check()
            except SkgError as exc:
                logger.error("index refresh failed: %s", exc)
            except Exception:  # a background thread: log and keep refreshing
                logger.exception("index refresh failed unexpectedly")
