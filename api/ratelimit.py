"""Per-caller rate limits: one token bucket per API key (per client address for keyless callers).

A bucket holds up to ``burst`` tokens and refills at ``per_minute / 60`` tokens a second; each
request takes one, and a request that finds the bucket empty is refused with the seconds until
a token is back (``RateLimitedError``, 429 with ``Retry-After``).

The buckets live in the process: with ``skg serve --workers N`` each worker keeps its own, so a
caller whose requests are spread over the workers may get up to N times the configured rate.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from kg.errors import RateLimitedError

# Buckets that have refilled completely are dropped once this many callers were seen, so a
# stream of new callers (addresses, keys) cannot grow the table without bound.
PRUNE_AT = 10_000


class RateLimiter:
    """Token buckets, one per caller, all with the same rate and burst. Thread-safe."""

    def __init__(
        self,
        per_minute: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if per_minute <= 0 or burst < 1:
            raise ValueError("a rate limit needs per_minute > 0 and burst >= 1")
        self.per_minute = per_minute
        self.burst = burst
        self._rate = per_minute / 60.0  # tokens per second
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # caller -> (tokens, when)
        self._lock = threading.Lock()

    def take(self, caller: str) -> None:
        """Take one token from ``caller``'s bucket.

        Raises:
            RateLimitedError: the bucket is empty; ``retry_after`` says when a token is back.
        """
        now = self._clock()
        with self._lock:
            tokens, then = self._buckets.get(caller, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - then) * self._rate)
            if tokens < 1.0:
                self._buckets[caller] = (tokens, now)
                wait = (1.0 - tokens) / self._rate
                raise RateLimitedError(
                    f"请求过于频繁：每分钟最多 {self.per_minute:g} 次，{wait:.1f} 秒后可重试 "
                    f"(over {self.per_minute:g} requests a minute; retry in {wait:.1f} s)",
                    retry_after=wait,
                )
            self._buckets[caller] = (tokens - 1.0, now)
            if len(self._buckets) > PRUNE_AT:
                self._prune(now)

    def _prune(self, now: float) -> None:
        """Forget the buckets that are full again: a new bucket is the same."""
        refill = self.burst / self._rate
        self._buckets = {c: (t, w) for c, (t, w) in self._buckets.items() if now - w < refill}


@dataclass(frozen=True)
class RateLimits:
    """The service's limits: ``calls`` for every identified request, ``uploads`` for those that
    upload files (spoken questions, ingest), which cost far more. None: no limit."""

    calls: RateLimiter | None
    uploads: RateLimiter | None

    @classmethod
    def of(
        cls, per_minute: float, burst: int, upload_per_minute: float, upload_burst: int
    ) -> RateLimits:
        """Limits from settings-like numbers; a rate of 0 turns that limit off."""
        return cls(
            RateLimiter(per_minute, burst) if per_minute > 0 else None,
            RateLimiter(upload_per_minute, upload_burst) if upload_per_minute > 0 else None,
        )

    def take(self, caller: str, *, upload: bool) -> None:
        limiter = self.uploads if upload else self.calls
        if limiter is not None:
            limiter.take(caller)
