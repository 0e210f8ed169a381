"""The graph's records as pydantic models: documents, knowledge atoms, entities and relations.

See docs/graph-model.md for the graph they form.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

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
    FACT = "fact"  # 知识卡片: what the graph knows about one entity (from triples)
    FIELD_NOTE = "field_note"  # 现场纪要: from a rep's dictated visit debrief


ATOM_TYPE_LABELS_ZH: dict[AtomType, str] = {
    AtomType.CASE: "成功案例",
    AtomType.LESSON: "复盘教训",
    AtomType.TERM: "术语",
    AtomType.TALK_TRACK: "话术",
    AtomType.OBJECTION: "异议处理",
    AtomType.PAIN_POINT: "客户痛点",
    AtomType.SOLUTION_POINT: "方案要点",
    AtomType.COMPETITOR: "竞品",
    AtomType.FACT: "知识卡片",
    AtomType.FIELD_NOTE: "现场纪要",
}


class DocumentKind(StrEnum):
    """The kind of source document."""

    CASE_STUDY = "case_study"  # 成功案例
    POST_MORTEM = "post_mortem"  # 失败复盘
    GLOSSARY = "glossary"  # 行业术语
    CUSTOMER_LIST = "customer_list"  # 客户名单
    CRM_EXPORT = "crm_export"  # CRM 导出
    TRIPLES = "triples"  # (实体, 关系, 值)
    VOICE_DEBRIEF = "voice_debrief"  # 语音纪要: a dictated debrief, transcribed
    NOTE = "note"  # anything else


class Visibility(StrEnum):
    """Who may see an atom."""

    PUBLIC = "public"
    TEAM = "team"
    PRIVATE = "private"


class CurationStatus(StrEnum):
    """Where an atom stands in the curators' review."""

    DRAFT = "draft"
    APPROVED = "approved"
    DEPRECATED = "deprecated"


# What search, briefs and entity pages show: everything not deprecated.
SEARCHABLE_STATUSES = frozenset({CurationStatus.DRAFT.value, CurationStatus.APPROVED.value})


class EntityKind(StrEnum):
    """Typed entities; each is also a Neo4j label (``Customer``, ``Term``...)."""

    CUSTOMER = "Customer"
    INDUSTRY = "Industry"
    PRODUCT = "Product"
    COMPETITOR = "Competitor"
    TERM = "Term"
    REGION = "Region"
    ROLE = "Role"
    PERSON = "Person"
    THING = "Thing"  # an entity of imported triples whose kind is unknown


class RelationType(StrEnum):
    """Typed relations between entities; triples with other names become ``RELATED``."""

    IN_INDUSTRY = "IN_INDUSTRY"  # customer -> industry
    LOCATED_IN = "LOCATED_IN"  # customer -> region
    RELATED_TO = "RELATED_TO"  # term -> term
    COMPETES_WITH = "COMPETES_WITH"  # competitor -> product
    CARES_ABOUT = "CARES_ABOUT"  # customer -> term
    FOR_INDUSTRY = "FOR_INDUSTRY"  # product -> industry
    BUYS = "BUYS"  # customer -> product
    RELATED = "RELATED"  # anything else, with its name kept on the relationship


class Document(BaseModel):
    """A source file the atoms cite."""

    id: str
    path: str
    collection: str
    title: str
    kind: DocumentKind
    content_hash: str
    metadata: dict[str, str] = Field(default_factory=dict)
    # Whose document it is: None for the organisation's own (CLI, admin keys), else the
    # ingest key's namespace ("team:华东", "user:王磊"); part of its identity (``document_id``).
    namespace: str | None = None
    # The file's bytes and how the run read them (ingest/pipeline.py): an unchanged file is
    # not parsed again.
    source_hash: str | None = None


class SourceSpan(BaseModel):
    """Where in its document an atom's text comes from (character offsets)."""

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
    entities: list[str] = Field(default_factory=list, description="ids of mentioned entities")
    owner: str | None = None
    contributors: list[str] = Field(default_factory=list)
    visibility: Visibility = Visibility.PUBLIC
    team: str | None = None
    status: CurationStatus = CurationStatus.DRAFT
    version: int = 1
    content_hash: str = ""
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    updated_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    def model_post_init(self, _context: object) -> None:
        if not self.content_hash:
            self.rehash()

    def rehash(self) -> None:
        """Recompute ``content_hash`` after a field it covers was changed in place."""
        self.content_hash = content_hash(
            self.type, self.title, self.text, self.visibility, self.owner or ""
        )


class Entity(BaseModel):
    """Something atoms talk about: a customer, an industry, a term..."""

    kind: EntityKind
    name: str
    aliases: list[str] = Field(default_factory=list)
    description: str | None = None

    @property
    def id(self) -> str:
        return entity_id(self.kind, self.name)


class Relation(BaseModel):
    """A directed, typed edge between two entities (``name`` keeps the source's wording)."""

    source: str
    type: RelationType
    target: str
    name: str
    # The document that states it (kept on the relationship as ``sources``): a relation is
    # shown only to callers who may see one of its documents.
    document_id: str | None = None


# Plain records the graph store hands out, kept here (not in kg/store.py or kg/relink.py) so
# that the dictionary, the relinker and the store all import them from below.


@dataclass(frozen=True)
class DictionaryEntry:
    """An entity as the linker needs it."""

    id: str
    name: str
    aliases: list[str]
    kind: str


@dataclass(frozen=True)
class AtomLinks:
    """A changed atom's text and its current links."""

    id: str
    title: str
    text: str
    link_hash: str | None
    automatic: frozenset[str]  # links made by ingest or by this relinking
    linked: frozenset[str]  # every link, curators' included
    declared: frozenset[str]  # entities the atom's document is about


@dataclass(frozen=True)
class Relink:
    """What to change in one atom's automatic entity links (``kg/relink.py``)."""

    id: str
    add: list[str]
    remove: list[str]
    link_hash: str


def entity_id(kind: EntityKind, name: str) -> str:
    return f"{kind.value.lower()}:{name}"


def content_hash(*parts: str) -> str:
    """A stable fingerprint of text parts (sha256, hex)."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8"))
        digest.update(b"\x1f")
    return digest.hexdigest()


# -- atoms as read back from the graph, where a hand edit may have left anything -------------
def sanitized_atom_fields(r: Mapping[str, Any]) -> dict[str, Any]:
    """``type``, ``title``, ``text``, ``status``, ``visibility`` and ``version`` of an atom
    row, each valid and failing closed: an atom with any problem (``atom_problems``) is
    private to its owner, an unknown status is deprecated (out of search), an unknown type a
    knowledge card."""
    return {
        "type": _enum(AtomType, r["type"], AtomType.FACT),
        "title": _text(r["title"]),
        "text": _text(r["text"]),
        "status": _enum(CurationStatus, r["status"], CurationStatus.DEPRECATED),
        # Anything wrong with an atom makes it private to its owner until a curator fixes it.
        "visibility": Visibility.PRIVATE
        if atom_problems(r)
        else _enum(Visibility, r["visibility"], Visibility.PRIVATE),
        "version": _count(r["version"]),
    }


def atom_problems(r: Mapping[str, Any]) -> list[str]:
    """What is missing or invalid in an atom row (empty when it is sound)."""
    problems = []
    for name, enum in (("type", AtomType), ("status", CurationStatus), ("visibility", Visibility)):
        if r[name] not in {e.value for e in enum}:
            problems.append(f"{name}={r[name]!r}")
    for name in ("title", "text"):
        if not isinstance(r[name], str) or not r[name].strip():
            problems.append(f"{name} missing")
    if r["visibility"] == "team" and not r["team"]:
        problems.append("team visibility without a team")
    if r["visibility"] == "private" and not r["owner"]:
        problems.append("private without an owner")
    if not isinstance(r["version"], int):
        problems.append(f"version={r['version']!r}")
    return problems


def _enum(enum: type[Any], value: Any, fallback: Any) -> Any:
    try:
        return enum(value)
    except ValueError:
        return fallback


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _count(value: Any) -> int:
    return value if isinstance(value, int) and value >= 0 else 0
