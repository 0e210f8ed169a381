"""Markdown and plain text: optional ``---`` front matter, a ``#`` title, ``##`` sections."""

from __future__ import annotations

import re
from pathlib import Path

from ingest.parsed import SourceText
from kg.errors import IngestError
from kg.models import DocumentKind

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


def read_utf8(path: Path) -> str:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise IngestError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    return text.replace("\r\n", "\n")


def load_text(path: Path) -> SourceText:
    """Read a Markdown or plain-text file (UTF-8) with optional ``---`` front matter."""
    text = read_utf8(path)
    metadata: dict[str, str] = {}
    offset = 0
    if match := _FRONT_MATTER.match(text):
        for line in match.group(1).splitlines():
            key, sep, value = line.partition(":")
            if not sep:
                raise IngestError(f"{path}: front matter line {line!r} is not 'key: value'")
            metadata[key.strip()] = value.strip()
        offset = match.end()
    return source_text(path, text[offset:], metadata, offset)


def source_text(path: Path, body: str, metadata: dict[str, str], offset: int = 0) -> SourceText:
    """Wrap extracted text (from any format) with its title and kind."""
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
