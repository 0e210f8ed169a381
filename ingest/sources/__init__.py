"""Source formats: find files, and parse each into a ``ParsedSource``.

Each format is a ``SourceParser`` (``base.py``) listed in ``registry.py``; the registry's
suffixes are the supported ones.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ingest.limits import ParseLimits, check_atoms, check_zip, parse_budget
from ingest.parsed import ParsedSource
from ingest.sources.base import SourceContext
from ingest.sources.registry import SUPPORTED_SUFFIXES, parser_for
from ingest.splitter import SplitOptions
from kg.errors import IngestError
from kg.models import EntityKind

__all__ = ["SUPPORTED_SUFFIXES", "discover", "document_id", "parse_file", "parse_folder"]

DEFAULT_LIMITS = ParseLimits()
# A folder's README describes the folder; it is not sales knowledge.
IGNORED_STEMS = {"readme"}


def discover(paths: list[Path]) -> list[Path]:
    """Supported files under the given files and folders, in a stable order."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(
                p
                for p in path.rglob("*")
                if p.is_file()
                and p.suffix.lower() in SUPPORTED_SUFFIXES
                and p.stem.lower() not in IGNORED_STEMS
                and not p.name.startswith((".", "~$"))
            )
        elif path.exists():
            found.append(path)
        else:
            raise IngestError(f"{path}: no such file or folder")
    return found


def parse_folder(folder: Path, options: SplitOptions | None = None) -> list[ParsedSource]:
    """Every source of a folder, parsed as an ingest would (collection = the folder's name),
    without touching the graph; used to export the corpus that golden sets judge."""
    collection = folder.resolve().name
    return [
        parse_file(
            path,
            path.resolve().relative_to(folder.resolve()).as_posix(),
            collection,
            {},
            options or SplitOptions(),
        )
        for path in discover([folder])
    ]


def document_id(collection: str, relative_path: str, namespace: str | None = None) -> str:
    """Stable id of a document from its owner's namespace, its collection and its path in it.

    The organisation's own documents (``namespace`` None) keep the id they always had; a
    team's or a user's same-named file is another document.
    """
    key = f"{collection}/{relative_path}"
    if namespace is not None:
        key = json.dumps([namespace, collection, relative_path], ensure_ascii=False)
    return "doc-" + hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]


def parse_file(
    path: Path,
    relative: str,
    collection: str,
    known: dict[str, EntityKind],
    options: SplitOptions,
    namespace: str | None = None,
    limits: ParseLimits = DEFAULT_LIMITS,
) -> ParsedSource:
    """Parse one file of any supported format within ``limits``; ``IngestError`` says what is
    wrong with it."""
    suffix = path.suffix.lower()
    parser = parser_for(suffix)
    if parser is None:
        raise IngestError(f"{path}: unsupported file type {suffix!r}")
    size = path.stat().st_size
    if size > limits.max_file_bytes:
        raise IngestError(
            f"{path}: 文件 {size} 字节，超过上限 {limits.max_file_bytes} "
            f"({size} bytes is over the {limits.max_file_bytes} byte limit)"
        )
    if size == 0:
        raise IngestError(f"{path}: the file is empty")
    if suffix in parser.archives:
        check_zip(path, limits)
    context = SourceContext(
        document_id(collection, relative, namespace), relative, collection, known, options
    )
    with parse_budget(path, limits):
        parsed = parser.parse(path, context)
    check_atoms(path, len(parsed.atoms), limits)
    parsed.document.namespace = namespace
    return parsed
