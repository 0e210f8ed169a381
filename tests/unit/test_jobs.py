"""Upload jobs' scheduling, on a fake job log: small jobs never wait behind large ones, jobs
finishing together share index syncs, jobs of a dead process resume once, names are checked,
and nothing half-written stays behind."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

import api.jobs as jobs_module
from api.jobs import WORKER, IngestJobs, safe_name
from api.state import Services
from ingest.pipeline import IngestOptions, IngestReport
from kg.access import Scope, Viewer, Writer
from kg.errors import GraphUnavailableError, IngestError

pytestmark = pytest.mark.unit

VIEWER = Viewer("k1", "east", frozenset({Scope.INGEST}), team="华东")


class FakeJobLog:
    def __init__(self) -> None:
        self.rows: dict[str, dict] = {}
        self.fail_create = False
        self.lock = threading.Lock()

    def create_job(self, job_id: str, **fields) -> None:
        if self.fail_create:
            raise GraphUnavailableError("down")
        self.rows[job_id] = {"id": job_id, "state": "queued", "report": None, **fields}

    def update_job(self, job_id, state, report=None, error=None) -> None:
        self.rows[job_id].update(state=state, report=report, error=error, done=time.monotonic())

    def job(self, job_id):
        return self.rows.get(job_id)

    def unfinished_jobs(self):
        return [r for r in self.rows.values() if r["state"] in ("queued", "running")]

    def claim_job(self, job_id, previous, worker) -> bool:
        with self.lock:
            row = self.rows[job_id]
            if row["worker"] != previous:
                return False
            row["worker"] = worker
            return True

    def abandon_job(self, job_id, error) -> None:
        self.rows[job_id].update(state="failed", error=error)


@pytest.fixture
def slow_ingest(monkeypatch):
    """Ingest takes 0.05 s per KB uploaded."""

    def ingest(paths, store, options):
        time.sleep(sum(p.stat().st_size for p in paths) / 1024 * 0.05)
        return IngestReport()

    monkeypatch.setattr(jobs_module, "ingest_paths", ingest)


def wait(log: FakeJobLog, job_id: str) -> dict:
    deadline = time.monotonic() + 60  # generous: the machine may be busy
    while log.rows[job_id]["state"] not in ("succeeded", "failed"):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    return log.rows[job_id]


def test_a_small_job_does_not_wait_behind_a_large_one(tmp_path, slow_ingest):
    log = FakeJobLog()
    jobs = IngestJobs(log, tmp_path, lambda: None, large_bytes=4 * 1024)
    large = jobs.submit(VIEWER, [("big.md", b"x" * 40 * 1024)], IngestOptions())
    small = jobs.submit(VIEWER, [("small.md", b"x" * 100)], IngestOptions())
    assert wait(log, small)["done"] < wait(log, large)["done"]
    # The uploads go right after the job is recorded finished (so a crash in between leaves a
    # finished job and orphan uploads, removed at the next start, never a lost job).
    deadline = time.monotonic() + 10
    while (tmp_path / large).exists() or (tmp_path / small).exists():
        assert time.monotonic() < deadline, "the uploads of finished jobs are removed"
        time.sleep(0.01)


def test_jobs_finishing_together_share_one_index_sync():
    calls = []

    class Fake:
        sync_after_writes = Services.sync_after_writes

        def __init__(self) -> None:
            import threading as t

            self._syncs = t.Condition()
            self._requested = self._completed = 0
            self._syncing = False

        def sync_and_reload(self) -> None:
            calls.append(time.monotonic())
            if len(calls) == 1:  # the first sync runs until every job has asked for one
                deadline = time.monotonic() + 30
                while self._requested < 8 and time.monotonic() < deadline:
                    time.sleep(0.01)

    services = Fake()
    threads = [threading.Thread(target=services.sync_after_writes) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert services._requested == 8
    assert len(calls) == 2, calls  # the first, and one shared by the seven that waited


def test_a_failed_sync_is_retried_by_a_waiting_job():
    attempts = []

    class Fake:
        sync_after_writes = Services.sync_after_writes

        def __init__(self) -> None:
            self._syncs = threading.Condition()
            self._requested = self._completed = 0
            self._syncing = False

        def sync_and_reload(self) -> None:
            attempts.append(1)
            time.sleep(0.1)
            if len(attempts) == 1:
                raise GraphUnavailableError("down")

    services = Fake()
    errors = []

    def call() -> None:
        try:
            services.sync_after_writes()
        except GraphUnavailableError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(2)]
    for thread in threads:
        thread.start()
        time.sleep(0.02)
    for thread in threads:
        thread.join()
    assert len(attempts) == 2 and len(errors) == 1


def test_a_dead_processs_job_resumes_from_its_uploads_once(tmp_path, slow_ingest):
    log = FakeJobLog()
    folder = tmp_path / "job-1"
    folder.mkdir()
    (folder / "a.md").write_text("x")
    options = jobs_module._options_json(IngestOptions(writer=Writer.for_key(VIEWER)))
    common = {"state": "running", "files": ["a.md"], "options": options, "size": 1}
    log.rows["job-1"] = {"id": "job-1", "worker": "gone:999999999", **common}
    log.rows["job-2"] = {"id": "job-2", "worker": "gone:999999998", **{**common, "files": ["b.md"]}}
    monkey_host = jobs_module.socket.gethostname()
    for row in log.rows.values():
        row["worker"] = f"{monkey_host}:{row['worker'].split(':')[1]}"
    jobs = IngestJobs(log, tmp_path, lambda: None)
    assert jobs.recover() == (1, 1)
    assert wait(log, "job-1")["state"] == "succeeded"
    assert log.rows["job-2"]["state"] == "failed" and "重新上传" in log.rows["job-2"]["error"]
    assert log.rows["job-1"]["worker"] == WORKER
    assert IngestJobs(log, tmp_path, lambda: None).recover() == (0, 0)


def test_a_failed_submit_leaves_no_folder(tmp_path):
    log = FakeJobLog()
    log.fail_create = True
    jobs = IngestJobs(log, tmp_path, lambda: None)
    with pytest.raises(GraphUnavailableError):
        jobs.submit(VIEWER, [("a.md", b"# x")], IngestOptions())
    assert list(tmp_path.iterdir()) == []


def test_old_upload_folders_without_a_job_are_removed_at_start_up(tmp_path):
    import os

    stale, fresh = tmp_path / "job-stale", tmp_path / "job-fresh"
    for folder in (stale, fresh):
        folder.mkdir()
    os.utime(stale, (time.time() - 3600, time.time() - 3600))
    IngestJobs(FakeJobLog(), tmp_path, lambda: None).recover()
    assert not stale.exists() and fresh.exists()


@pytest.mark.parametrize("name", ["a\x00b.md", "\u202eevil.md", "长" * 80 + ".md", "", "..", "../"])
def test_bad_file_names_are_refused(name):
    with pytest.raises(IngestError):
        safe_name(name)


def test_a_path_in_a_name_keeps_only_the_name():
    assert safe_name("../../etc/passwd.md") == "passwd.md"
    assert safe_name(str(Path("C:\\Users\\rep") / "案例.docx").replace("/", "\\")) == "案例.docx"
