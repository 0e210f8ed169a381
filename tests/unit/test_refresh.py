"""The index refresher's decisions, on a fake graph whose change token we control."""

import time
from types import SimpleNamespace

import pytest

from api.refresh import IndexRefresher
from retrieval.index.sync import SyncReport

pytestmark = pytest.mark.unit


class FakeServices:
    """Services whose graph's change token is a string we set."""

    def __init__(self) -> None:
        self.fingerprint = "v1"
        self.syncs = 0
        self.change_during_sync: str | None = None
        self.store = SimpleNamespace(change_token=lambda lag_s: self.fingerprint)
        self.audits = self.saves = 0

    def sync_and_reload(self, audit: bool = False) -> SyncReport:
        self.audits += audit
        self.syncs += 1
        if self.change_during_sync:  # a curator's edit lands while the sync runs
            self.fingerprint, self.change_during_sync = self.change_during_sync, None
        return SyncReport(0, 0, 0, 0, 0)

    def save_index(self) -> bool:
        self.saves += 1
        return True


def test_syncs_once_per_change_and_not_when_nothing_changed():
    services = FakeServices()
    refresher = IndexRefresher(services, interval_s=60)
    assert refresher.check() and services.syncs == 1  # the first check catches up
    assert not refresher.check() and services.syncs == 1
    services.fingerprint = "v2"
    assert refresher.check() and services.syncs == 2


def test_an_edit_made_during_a_sync_is_not_lost():
    services = FakeServices()
    refresher = IndexRefresher(services, interval_s=60)
    services.change_during_sync = "v2"
    assert refresher.check() and services.syncs == 1
    assert refresher.check() and services.syncs == 2, "the edit made mid-sync syncs again"
    assert not refresher.check()


def test_a_costly_check_stretches_the_wait_and_a_cheap_one_keeps_the_interval():
    services = FakeServices()
    refresher = IndexRefresher(services, interval_s=0.5)
    refresher.check()
    assert refresher.wait_s() == 0.5

    def slow_token(lag_s: float) -> str:
        time.sleep(0.05)
        return services.fingerprint

    services.store = SimpleNamespace(change_token=slow_token)
    refresher.check()
    assert refresher.wait_s() >= 20 * 0.05, "the check stays within 1/20 of the time"


def test_audits_and_saves_come_when_due():
    services = FakeServices()
    refresher = IndexRefresher(services, interval_s=60, audit_s=0.2, save_s=0.2)
    refresher.check()
    assert services.audits == 0 and services.saves == 0
    time.sleep(0.25)
    assert refresher.check() and services.audits == 1, "an audit is due"
    assert refresher.check() and services.syncs == 3, "after an audit the token is read afresh"
    assert services.saves == 1, "the save was due too"
    assert not refresher.check() and services.saves == 1, "and is not due again yet"


def test_a_chore_falls_due_once_per_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    import threading
    import time
    from types import SimpleNamespace

    from api.state import Services

    now = [100.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    state = SimpleNamespace(_chore_times={}, _chore_lock=threading.Lock())
    assert Services.due(state, "clean", 600) is True  # type: ignore[arg-type]
    assert Services.due(state, "clean", 600) is False  # type: ignore[arg-type]
    assert Services.due(state, "other", 600) is True  # type: ignore[arg-type]
    now[0] += 599
    assert Services.due(state, "clean", 600) is False  # type: ignore[arg-type]
    now[0] += 1
    assert Services.due(state, "clean", 600) is True  # type: ignore[arg-type]
