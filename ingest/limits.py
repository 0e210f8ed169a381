"""Bounds on what one file may cost to parse: its size, what it unzips to, how many atoms it
makes, and how long it takes. A file over a bound is refused with a clear reason (reported,
skipped, the rest of the batch lands); it never holds a worker for minutes or exhausts Neo4j.

The time bound is checked by the parsers as they go (``tick``) between paragraphs, pages,
rows and sections; the unzipped-size bound stops a zip bomb (.docx and .xlsx are zip files)
before any XML is parsed, which is where a small file could otherwise take minutes.
"""

from __future__ import annotations

import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

from kg.errors import IngestError

MiB = 1024 * 1024


@dataclass(frozen=True)
class ParseLimits:
    """What one file may cost (settings: ``SKG_INGEST_*``)."""

    max_file_bytes: int = 50 * MiB
    max_expanded_bytes: int = 64 * MiB
    max_atoms: int = 200_000
    max_seconds: float = 120.0


_deadline: ContextVar[tuple[float, float, str] | None] = ContextVar("parse_deadline", default=None)


@contextmanager
def parse_budget(path: Path, limits: ParseLimits) -> Iterator[None]:
    """Parsing ``path`` within ``limits.max_seconds`` (checked by ``tick``)."""
    token = _deadline.set((time.monotonic() + limits.max_seconds, limits.max_seconds, path.name))
    try:
        yield
    finally:
        _deadline.reset(token)


def tick() -> None:
    """Called by parsers between units of work; raises once the file's time is up."""
    budget = _deadline.get()
    if budget is not None and time.monotonic() > budget[0]:
        raise IngestError(
            f"{budget[2]}: 解析超过 {budget[1]:g} 秒，文件过大或过于复杂，请拆分后再导入 "
            f"(parsing took longer than {budget[1]:g} s; split the file)"
        )


def check_zip(path: Path, limits: ParseLimits) -> None:
    """Refuse a zip container (.docx, .xlsx) that unzips to more than allowed."""
    try:
        with zipfile.ZipFile(path) as archive:
            expanded = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError) as exc:
        kind = {".docx": "Word (.docx)", ".xlsx": "Excel (.xlsx)"}.get(path.suffix.lower(), "zip")
        raise IngestError(f"{path}: not a readable {kind} file ({exc})") from exc
    if expanded > limits.max_expanded_bytes:
        raise IngestError(
            f"{path}: 解压后 {expanded // MiB} MiB，超过上限 {limits.max_expanded_bytes // MiB} "
            f"MiB (the file unzips to {expanded} bytes, over the "
            f"{limits.max_expanded_bytes} byte limit)"
        )


def check_atoms(path: Path, count: int, limits: ParseLimits) -> None:
    if count > limits.max_atoms:
        raise IngestError(
            f"{path}: 一个文件切出 {count} 条知识，超过上限 {limits.max_atoms}；请拆分文件 "
            f"({count} atoms, over the {limits.max_atoms} per-document limit)"
        )
