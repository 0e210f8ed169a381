"""Token buckets per caller: burst, refill, the wait it reports, separate callers, pruning."""

import pytest

from api import ratelimit
from api.ratelimit import RateLimiter, RateLimits
from kg.errors import RateLimitedError

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_then_the_refill_rate():
    clock = Clock()
    limiter = RateLimiter(per_minute=60, burst=3, clock=clock)
    for _ in range(3):
        limiter.take("key:a")
    with pytest.raises(RateLimitedError) as refused:
        limiter.take("key:a")
    assert refused.value.retry_after == pytest.approx(1.0)
    assert "60" in str(refused.value) and "请求过于频繁" in str(refused.value)
    clock.now += 0.5
    with pytest.raises(RateLimitedError) as again:
        limiter.take("key:a")
    assert again.value.retry_after == pytest.approx(0.5)
    clock.now += 0.5
    limiter.take("key:a")  # one token back after a second at 60 a minute


def test_a_bucket_never_holds_more_than_the_burst():
    clock = Clock()
    limiter = RateLimiter(per_minute=600, burst=2, clock=clock)
    clock.now += 3600
    limiter.take("key:a")
    limiter.take("key:a")
    with pytest.raises(RateLimitedError):
        limiter.take("key:a")


def test_callers_do_not_share_a_bucket():
    limiter = RateLimiter(per_minute=1, burst=1, clock=Clock())
    limiter.take("key:a")
    limiter.take("key:b")
    limiter.take("address:127.0.0.1")
    with pytest.raises(RateLimitedError):
        limiter.take("key:a")


def test_full_buckets_are_forgotten_so_the_table_stays_small(monkeypatch):
    monkeypatch.setattr(ratelimit, "PRUNE_AT", 10)
    clock = Clock()
    limiter = RateLimiter(per_minute=60, burst=1, clock=clock)
    for i in range(10):
        limiter.take(f"address:10.0.0.{i}")
    clock.now += 2  # every bucket so far has refilled
    limiter.take("address:late")
    assert set(limiter._buckets) == {"address:late"}


def test_zero_turns_a_limit_off():
    limits = RateLimits.of(0, 1, 0, 1)
    for _ in range(100):
        limits.take("key:a", upload=False)
        limits.take("key:a", upload=True)


def test_uploads_draw_from_their_own_bucket():
    limits = RateLimits.of(600, 60, 1, 1)
    limits.take("key:a", upload=True)
    with pytest.raises(RateLimitedError):
        limits.take("key:a", upload=True)
    limits.take("key:a", upload=False)


def test_nonsense_limits_are_refused():
    with pytest.raises(ValueError):
        RateLimiter(per_minute=-1, burst=1)
    with pytest.raises(ValueError):
        RateLimiter(per_minute=1, burst=0)
