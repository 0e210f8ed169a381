"""Read source files into ``SourceText``: title, kind, metadata and body."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from kg.errors import IngestError
from kg.models import DocumentKind

SUPPORTED_SUFFIXES = (".md", ".markdown", ".txt")
MAX_FILE_BYTES = 5 * 1024 * 1024
# A folder's README describes the folder; it is not sales knowledge.
IGNORED_STEMS = {"readme"}

KIND_BY_LABEL = {
    "成功案例": DocumentKind.CASE_STUDY,
    "案例": DocumentKind.CASE_STUDY,
    "失败复盘": DocumentKind.POST_MORTEM,
    "复盘": DocumentKind.POST_MORTEM,
    "行业术语": DocumentKind.GLOSSARY,
    "术语": DocumentKind.GLOSSARY,
}
KIND_BY_FOLDER = {
    "cases": DocumentKind.CASE_STUDY,
    "postmortems": DocumentKind.POST_MORTEM,
    "glossary": DocumentKind.GLOSSARY,
}
_FRONT_MATTER = re.compile(r"\A---\n(.*?)\n---\n", re.DOTALL)


@dataclass(frozen=True)
class SourceText:
    """A source file's text and what is known about it."""

    path: Path
    title: str
    kind: DocumentKind
    body: str
    body_offset: int
    metadata: dict[str, str] = field(default_factory=dict)


def discover(paths: list[Path]) -> list[Path]:
    """Supported files under the given files and folders, in a stable order."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(
                p
                for p in path.rglob("*")
                if p.suffix.lower() in SUPPORTED_SUFFIXES and p.stem.lower() not in IGNORED_STEMS
            )
        elif path.exists():
            found.append(path)
        else:
            raise IngestError(f"{path}: no such file or folder")
    return found


def load_text(path: Path) -> SourceText:
    """Read a Markdown or plain-text file (UTF-8) with optional ``---`` front matter."""
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        raise IngestError(f"{path}: unsupported file type {path.suffix!r}")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise IngestError(f"{path}: {size} bytes is over the {MAX_FILE_BYTES} byte limit")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise IngestError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    text = text.replace("\r\n", "\n")
    metadata: dict[str, str] = {}
    offset = 0
    if match := _FRONT_MATTER.match(text):
        for line in match.group(1).splitlines():
            key, sep, value = line.partition(":")
            if not sep:
                raise IngestError(f"{path}: front matter line {line!r} is not 'key: value'")
            metadata[key.strip()] = value.strip()
        offset = match.end()
    body = text[offset:]
    if not body.strip():
        raise IngestError(f"{path}: the file has no text")
    return SourceText(
        path=path,
        title=_title(body, metadata, path),
        kind=_kind(metadata, path),
        body=body,
        body_offset=offset,
        metadata=metadata,
    )


def _title(body: str, metadata: dict[str, str], path: Path) -> str:
    if "标题" in metadata:
        return metadata["标题"]
    for line in body.splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return path.stem


def _kind(metadata: dict[str, str], path: Path) -> DocumentKind:
    if label := metadata.get("类型"):
        if label not in KIND_BY_LABEL:
            raise IngestError(f"{path}: unknown 类型 {label!r}; use one of {list(KIND_BY_LABEL)}")
        return KIND_BY_LABEL[label]
    for parent in path.parents:
        if parent.name in KIND_BY_FOLDER:
            return KIND_BY_FOLDER[parent.name]
    return DocumentKind.NOTE
