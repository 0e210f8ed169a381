"""The graph's records as pydantic models: documents and the knowledge atoms cut from them."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from enum import StrEnum

from pydantic import BaseModel, Field


class AtomType(StrEnum):
    """What kind of knowledge an atom carries."""

    CASE = "case"  # 成功案例
    LESSON = "lesson"  # 复盘教训
    TERM = "term"  # 术语
    TALK_TRACK = "talk_track"  # 话术
    OBJECTION = "objection"  # 异议处理
    PAIN_POINT = "pain_point"  # 客户痛点
    SOLUTION_POINT = "solution_point"  # 方案要点
    COMPETITOR = "competitor"  # 竞品


ATOM_TYPE_LABELS_ZH: dict[AtomType, str] = {
    AtomType.CASE: "成功案例",
    AtomType.LESSON: "复盘教训",
    AtomType.TERM: "术语",
    AtomType.TALK_TRACK: "话术",
    AtomType.OBJECTION: "异议处理",
    AtomType.PAIN_POINT: "客户痛点",
    AtomType.SOLUTION_POINT: "方案要点",
    AtomType.COMPETITOR: "竞品",
}


class DocumentKind(StrEnum):
    """The kind of source document."""

    CASE_STUDY = "case_study"  # 成功案例
    POST_MORTEM = "post_mortem"  # 失败复盘
    GLOSSARY = "glossary"  # 行业术语
    NOTE = "note"  # anything else


class Document(BaseModel):
    """A source file the atoms cite."""

    id: str
    path: str
    title: str
    kind: DocumentKind
    content_hash: str


class SourceSpan(BaseModel):
    """Where in its document an atom's text comes from."""

    document_id: str
    section: str
    start: int = Field(ge=0)
    end: int = Field(ge=0)


class Atom(BaseModel):
    """A small, typed, self-contained unit of sales knowledge that cites its source."""

    id: str
    type: AtomType
    title: str
    text: str
    source: SourceSpan
    status: str = "approved"
    visibility: str = "public"
    version: int = 1
    content_hash: str = ""
    updated_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    def model_post_init(self, _context: object) -> None:
        if not self.content_hash:
            self.content_hash = content_hash(self.type, self.title, self.text)


def content_hash(*parts: str) -> str:
    """A stable fingerprint of text parts (sha256, hex)."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8"))
        digest.update(b"\x1f")
    return digest.hexdigest()
