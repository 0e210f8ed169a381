"""Ingest jobs: files uploaded through the API are saved, then ingested one job at a time in a
background thread; the job's state and report live in Neo4j (``IngestJob`` nodes)."""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path
from typing import Any

from api import metrics
from ingest.pipeline import IngestOptions, IngestReport, ingest_paths
from ingest.sources import SUPPORTED_SUFFIXES
from kg import queries
from kg.access import Scope, Viewer
from kg.errors import IngestError, NotFoundError, SkgError
from kg.neo4j_store import Neo4jGraphStore

logger = logging.getLogger(__name__)

WORKER = f"{socket.gethostname()}:{os.getpid()}"
INTERRUPTED = "服务在任务完成前重启，请重新上传 (the server stopped before the job finished)"


class IngestJobs:
    def __init__(
        self,
        store: Neo4jGraphStore,
        uploads_dir: Path,
        after_ingest: Callable[[], object],
    ) -> None:
        self._store = store
        self._uploads = uploads_dir
        self._after_ingest = after_ingest  # bring the index in step and reload it
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest")

    def abandon_unfinished(self) -> int:
        """Mark jobs left queued or running by a server process that is gone as failed (the
        other workers of this server keep theirs)."""
        gone = [
            r["id"] for r in self._store.run(queries.UNFINISHED_JOBS) if not _alive(r["worker"])
        ]
        if gone:
            self._store.run(queries.ABANDON_JOBS, ids=gone, error=INTERRUPTED)
        return len(gone)

    def submit(
        self, viewer: Viewer, files: Sequence[tuple[str, bytes]], options: IngestOptions
    ) -> str:
        """Save the files and queue the job; a file of an unsupported type refuses the lot."""
        names = [_safe_name(name) for name, _ in files]
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
        folder.mkdir(parents=True)
        paths = []
        for name, (_, data) in zip(names, files, strict=True):
            path = folder / name
            path.write_bytes(data)
            paths.append(path)
        self._store.run(
            queries.CREATE_JOB,
            id=job_id,
            key_id=viewer.key_id,
            team=viewer.team,
            collection=options.collection,
            files=names,
            worker=WORKER,
        )
        self._worker.submit(self._run, job_id, paths, options)
        return job_id

    def get(self, job_id: str, viewer: Viewer) -> dict[str, Any]:
        rows = self._store.run(queries.JOB, id=job_id)
        if not rows or not _may_read(viewer, rows[0]["key_id"]):
            raise NotFoundError(f"没有这个导入任务：{job_id} (no such ingest job)")
        return _job(rows[0])

    def list(self, viewer: Viewer, offset: int, limit: int) -> tuple[list[dict[str, Any]], int]:
        key_id = None if viewer.allows(Scope.ADMIN) else viewer.key_id
        rows = self._store.run(queries.LIST_JOBS, key_id=key_id, offset=offset, limit=limit)
        total = self._store.run(queries.COUNT_JOBS, key_id=key_id)[0]["total"]
        return [_job(r) for r in rows], int(total)

    def shutdown(self) -> None:
        self._worker.shutdown(wait=True, cancel_futures=True)

    def _run(self, job_id: str, paths: list[Path], options: IngestOptions) -> None:
        self._update(job_id, "running")
        try:
            report = ingest_paths(paths, self._store, options)
            self._after_ingest()
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
        self._update(job_id, state, _report_json(report) if report else None, error)

    def _update(
        self, job_id: str, state: str, report: str | None = None, error: str | None = None
    ) -> None:
        self._store.run(queries.UPDATE_JOB, id=job_id, state=state, report=report, error=error)


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


def _safe_name(name: str) -> str:
    """The file's own name, without any folder a client put in front of it."""
    base = Path(name.replace("\\", "/")).name.strip()
    if not base or base in {".", ".."}:
        raise IngestError(f"文件名无效：{name!r} (invalid file name)")
    return base


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


def _job(r: Any) -> dict[str, Any]:
    data = r.data()
    data["report"] = json.loads(data["report"]) if data["report"] else None
    return data
