"""Ingest jobs: files uploaded through the API are saved, then ingested in background threads;
each job's state and report live in Neo4j (``IngestJob`` nodes), so every worker reads them.

- **Two lanes.** Jobs up to ``large_bytes`` run in one lane, larger ones in another, so a
  two-line file never waits behind a large export.
- **One index sync for many jobs.** After writing, a job waits for an index sync that starts
  after its write (``Services.sync_after_writes``); jobs finishing together share one.
- **Restarts.** A job of a server process that is gone is claimed by exactly one new worker
  and run again from its saved uploads (ingest is idempotent: what landed is skipped, what
  did not is written); a job whose uploads are gone is reported failed. Uploads are removed
  when their job ends, and folders no job will use are removed at start-up.
"""

from __future__ import annotations

import builtins
import json
import logging
import os
import queue
import shutil
import socket
import threading
import time
import unicodedata
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, Protocol

from api import metrics
from ingest.pipeline import IngestOptions, IngestReport, ingest_paths
from ingest.sources import SUPPORTED_SUFFIXES
from kg.access import Scope, Viewer, Writer
from kg.errors import IngestError, NotFoundError, SkgError
from kg.models import CurationStatus, Visibility
from kg.service_store import JobStore
from kg.store import IngestStore

logger = logging.getLogger(__name__)

WORKER = f"{socket.gethostname()}:{os.getpid()}"
LOST = "服务重启时上传的文件已不在，请重新上传 (the server restarted and the uploads are gone)"
MAX_NAME_BYTES = 200  # file systems allow 255 bytes; leave room for the job folder's own names
ORPHAN_AGE_S = 600.0  # an upload folder without a job for this long is a leftover


class JobsStore(JobStore, IngestStore, Protocol):
    """What ingest jobs need from the graph: their own state, and ingest's writes."""


class IngestJobs:
    def __init__(
        self,
        store: JobsStore,
        uploads_dir: Path,
        sync: Callable[[], object],
        *,
        large_bytes: int = 1024 * 1024,
    ) -> None:
        self._store = store
        self._uploads = uploads_dir
        self._sync = sync  # an index sync that starts after the call; shared by callers
        self._large_bytes = large_bytes
        self._lanes = {lane: _Lane(f"ingest-{lane}") for lane in ("small", "large")}

    def recover(self) -> tuple[int, int]:
        """Resume the jobs of server processes that are gone, and remove leftover uploads.

        Returns (jobs resumed, jobs that could not be)."""
        resumed = lost = 0
        for row in self._store.unfinished_jobs():
            if _alive(row["worker"]) or not self._store.claim_job(row["id"], row["worker"], WORKER):
                continue
            folder = self._uploads / row["id"]
            paths = [folder / name for name in row["files"] or []]
            if paths and all(p.is_file() for p in paths) and row["options"]:
                logger.info("resuming ingest job %s after a restart", row["id"])
                self._queue(row["id"], paths, _options(row["options"]), int(row["size"]))
                resumed += 1
            else:
                self._store.abandon_job(row["id"], LOST)
                metrics.INGEST_JOBS.labels("failed").inc()
                shutil.rmtree(folder, ignore_errors=True)
                lost += 1
        self._remove_orphans({r["id"] for r in self._store.unfinished_jobs()})
        return resumed, lost

    def submit(
        self, viewer: Viewer, files: Sequence[tuple[str, bytes]], options: IngestOptions
    ) -> str:
        """Save the files and queue the job; a bad name or an unsupported type refuses the lot
        and nothing is kept."""
        names = [safe_name(name) for name, _ in files]
        unsupported = [n for n in names if Path(n).suffix.lower() not in SUPPORTED_SUFFIXES]
        if unsupported:
            raise IngestError(
                f"不支持的文件类型：{', '.join(unsupported)}；支持 "
                f"{' '.join(sorted(SUPPORTED_SUFFIXES))} (unsupported file types)"
            )
        if len(set(names)) != len(names):
            raise IngestError("同一任务中文件名重复 (two files have the same name)")
        job_id = "job-" + uuid.uuid4().hex[:12]
        folder = self._uploads / job_id
        size = sum(len(data) for _, data in files)
        try:
            folder.mkdir(parents=True, mode=0o700)
            paths = []
            for name, (_, data) in zip(names, files, strict=True):
                path = folder / name
                path.write_bytes(data)
                path.chmod(0o600)
                paths.append(path)
            self._store.create_job(
                job_id,
                key_id=viewer.key_id,
                team=viewer.team,
                collection=options.collection,
                files=names,
                worker=WORKER,
                options=_options_json(options),
                size=size,
            )
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        self._queue(job_id, paths, options, size)
        return job_id

    def get(self, job_id: str, viewer: Viewer) -> dict[str, Any]:
        row = self._store.job(job_id)
        if row is None or not _may_read(viewer, row["key_id"]):
            raise NotFoundError(f"没有这个导入任务：{job_id} (no such ingest job)")
        return _job(row)

    def list(self, viewer: Viewer, offset: int, limit: int) -> tuple[list[dict[str, Any]], int]:
        key_id = None if viewer.allows(Scope.ADMIN) else viewer.key_id
        rows, total = self._store.jobs(key_id, offset, limit)
        return [_job(r) for r in rows], total

    def shutdown(self) -> None:
        """Stop taking jobs. A job still running is not waited for: the process may end under
        it, and the next start-up runs it again from its uploads."""
        for lane in self._lanes.values():
            lane.close()

    def _queue(
        self, job_id: str, paths: builtins.list[Path], options: IngestOptions, size: int
    ) -> None:
        lane = "large" if size > self._large_bytes else "small"
        self._lanes[lane].put(lambda: self._run(job_id, paths, options))

    def _run(self, job_id: str, paths: builtins.list[Path], options: IngestOptions) -> None:
        try:
            self._store.update_job(job_id, "running")
            report = ingest_paths(paths, self._store, options)
            self._sync()
        except SkgError as exc:
            logger.warning("ingest job %s failed: %s", job_id, exc)
            self._finish(job_id, "failed", None, str(exc))
        except Exception as exc:  # a thread boundary: record it, or the job stays "running"
            logger.exception("ingest job %s failed unexpectedly", job_id)
            self._finish(job_id, "failed", None, f"内部错误 (internal error: {type(exc).__name__})")
        else:
            self._finish(job_id, "succeeded", report, None)
        finally:
            shutil.rmtree(paths[0].parent, ignore_errors=True)

    def _finish(
        self, job_id: str, state: str, report: IngestReport | None, error: str | None
    ) -> None:
        metrics.INGEST_JOBS.labels(state).inc()
        try:
            self._store.update_job(job_id, state, _report_json(report) if report else None, error)
        except SkgError as exc:  # the next start-up finds the job unfinished and resumes it
            logger.warning("could not record the end of ingest job %s: %s", job_id, exc)

    def _remove_orphans(self, unfinished: set[str]) -> None:
        if not self._uploads.is_dir():
            return
        cutoff = time.time() - ORPHAN_AGE_S
        for folder in self._uploads.iterdir():
            if folder.name in unfinished or not folder.is_dir():
                continue
            if folder.stat().st_mtime < cutoff:
                logger.info("removing leftover uploads %s", folder.name)
                shutil.rmtree(folder, ignore_errors=True)


class _Lane:
    """Jobs one after another on a daemon thread: stopping the server never waits for one."""

    def __init__(self, name: str) -> None:
        self._queue: queue.Queue[Callable[[], None] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def put(self, job: Callable[[], None]) -> None:
        self._queue.put(job)

    def close(self) -> None:
        self._queue.put(None)

    def _loop(self) -> None:
        while (job := self._queue.get()) is not None:
            job()


def _alive(worker: str | None) -> bool:
    """Whether the process that took a job still runs (only known for this host)."""
    host, _, pid = (worker or "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return host != socket.gethostname() and bool(host)  # another host's: leave it be
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _may_read(viewer: Viewer, owner_key: str | None) -> bool:
    return viewer.allows(Scope.ADMIN) or owner_key == viewer.key_id


def safe_name(name: str) -> str:
    """The file's own name, without any folder a client put in front of it; names with
    control characters, or too long for a file system, are refused."""
    base = Path(name.replace("\\", "/")).name.strip()
    if not base or base in {".", ".."}:
        raise IngestError(f"文件名无效：{name[:80]!r} (invalid file name)")
    if any(unicodedata.category(c) in ("Cc", "Cf", "Cs") for c in base):
        raise IngestError("文件名含有控制字符 (the file name contains control characters)")
    if len(base.encode("utf-8")) > MAX_NAME_BYTES:
        raise IngestError(
            f"文件名过长（上限 {MAX_NAME_BYTES} 字节）"
            f"(the file name is over {MAX_NAME_BYTES} bytes)"
        )
    return base


def _options_json(options: IngestOptions) -> str:
    """What a resumed job needs to run exactly as submitted."""
    return json.dumps(
        {
            "collection": options.collection,
            "sync_removed": options.sync_removed,
            "default_status": options.default_status.value,
            "default_visibility": options.default_visibility.value,
            "default_team": options.default_team,
            "default_owner": options.default_owner,
            "writer": asdict(options.writer),
        },
        ensure_ascii=False,
    )


def _options(data: str) -> IngestOptions:
    raw = json.loads(data)
    return IngestOptions(
        collection=raw["collection"],
        sync_removed=raw["sync_removed"],
        default_status=CurationStatus(raw["default_status"]),
        default_visibility=Visibility(raw["default_visibility"]),
        default_team=raw["default_team"],
        default_owner=raw["default_owner"],
        writer=Writer(**raw["writer"]),
    )


def _report_json(report: IngestReport) -> str:
    data = asdict(report)
    data["candidates"] = [
        {"name": n, "count": c, "examples": e} for n, c, e in report.candidates[:50]
    ]
    data["failures"] = [
        {"file": Path(f).name, "error": e.replace(str(Path(f).parent) + "/", "")}
        for f, e in report.failures
    ]
    return json.dumps(data, ensure_ascii=False)


def _job(row: dict[str, Any]) -> dict[str, Any]:
    data = dict(row)
    data["report"] = json.loads(data["report"]) if data["report"] else None
    return data
