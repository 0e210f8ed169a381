"""The index refresher's decisions, on a fake graph whose fingerprint we control."""

import time
from types import SimpleNamespace

import pytest

from api.refresh import IndexRefresher
from retrieval.index.sync import SyncReport

pytestmark = pytest.mark.unit


class FakeServices:
    def __init__(self) -> None:
        self.fingerprint = "v1"
        self.syncs = 0
        self.change_during_sync: str | None = None
        self.store = SimpleNamespace(graph_fingerprint=lambda: self.fingerprint)

    def sync_and_reload(self) -> SyncReport:
        self.syncs += 1
        if self.change_during_sync:  # a curator's edit lands while the sync runs
            self.fingerprint, self.change_during_sync = self.change_during_sync, None
        return SyncReport(0, 0, 0, 0, 0)


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

    def slow_fingerprint() -> str:
        time.sleep(0.05)
        return services.fingerprint

    services.store = SimpleNamespace(graph_fingerprint=slow_fingerprint)
    refresher.check()
    assert refresher.wait_s() >= 20 * 0.05, "the check stays within 1/20 of the time"
