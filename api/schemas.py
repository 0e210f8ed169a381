"""Request and response models of the HTTP API."""

from __future__ import annotations

import re
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from kg.models import AtomType, CurationStatus, Visibility
from retrieval.answer import Answer
from retrieval.hybrid import Filters
from retrieval.service import MAX_QUERY_CHARS


class RequestModel(BaseModel):
    """A request body: a field it does not know is refused (422 naming it), not ignored, so a
    typo such as ``{"q": ...}`` for ``query`` is caught. Numbers are integers as the schema
    says (``"top_k": "5"`` or ``true`` is refused, not converted)."""

    model_config = ConfigDict(extra="forbid")


# A question must say something. Published as a JSON Schema pattern, enforced by the search
# service (422 bad_query, a code of its own), not by validation.
NOT_BLANK = r"\S"
MAX_ENTITIES = 20
# An entity id (kind:name), name or alias: not empty, and an id has its name after the colon.
EntityRefText = Annotated[str, Field(min_length=1, max_length=100, pattern=r"[^:]$")]


def _iso_day(value: object) -> object:
    """Only ``YYYY-MM-DD`` (pydantic would also take ``0`` or ``1700000000`` as a day)."""
    if isinstance(value, str) and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError("a day is written YYYY-MM-DD, e.g. 2026-01-01")
    return value


IsoDay = Annotated[date, BeforeValidator(_iso_day)]


def _json_integer(value: object) -> object:
    """A JSON integer (``5``, or ``5.0``, as JSON Schema has it), not ``"5"`` nor ``true``,
    which pydantic would otherwise convert."""
    if isinstance(value, bool | str):
        raise ValueError("Input should be a valid integer")
    return value


JsonInt = Annotated[int, BeforeValidator(_json_integer)]


class FilterFields(RequestModel):
    """Optional filters: atom types, curation statuses, visibilities, and entities (customers,
    industries...) the atoms must mention, by id (``customer:宁德时代``), name or alias."""

    types: list[AtomType] | None = Field(None, examples=[["case", "lesson"]])
    statuses: list[CurationStatus] | None = Field(None, examples=[["approved"]])
    entities: list[EntityRefText] | None = Field(
        None, max_length=MAX_ENTITIES, examples=[["customer:宁德时代"]]
    )
    visibilities: list[Visibility] | None = Field(None, examples=[["public"]])

    def filters(self) -> Filters:
        return Filters(
            types=frozenset(t.value for t in self.types) if self.types else None,
            statuses=frozenset(s.value for s in self.statuses)
            if self.statuses
            else Filters().statuses,
            entities=frozenset(self.entities) if self.entities else None,
            visibilities=frozenset(v.value for v in self.visibilities)
            if self.visibilities
            else None,
        )


class SearchRequest(FilterFields):
    """A question, or only context: a CRM opportunity page may send just its customer,
    industry and product as ``entities`` and no question."""

    query: str = Field(
        "",
        max_length=MAX_QUERY_CHARS,
        description="the question; may be empty when `entities` give the context",
        examples=["如何向宁德时代解释热失控防护方案？"],
    )
    top_k: JsonInt = Field(8, ge=1, le=50, description="page size")
    offset: JsonInt = Field(0, ge=0, le=450, description="where the page starts")

    model_config = {
        "json_schema_extra": {
            "examples": [
                {"query": "如何向宁德时代解释热失控防护方案？", "top_k": 5},
                {"query": "", "entities": ["宁德时代", "动力电池"], "types": ["case", "lesson"]},
            ],
            # A question, or entities to stand for it (422 bad_query otherwise).
            "anyOf": [
                {"required": ["query"], "properties": {"query": {"pattern": NOT_BLANK}}},
                {
                    "required": ["entities"],
                    "properties": {"entities": {"type": "array", "minItems": 1}},
                },
            ],
        }
    }


class AtomPublic(BaseModel):
    id: str
    type: str
    type_label: str = Field(description="the type in Chinese, e.g. 成功案例")
    title: str
    text: str
    status: str
    version: int
    visibility: str
    team: str | None
    owner: str | None
    updated_at: datetime


class CitationPublic(BaseModel):
    document_id: str
    document_title: str
    document_path: str
    section: str
    start: int
    end: int


class EntityRef(BaseModel):
    id: str = Field(examples=["customer:宁德时代"])
    name: str
    kind: str


class SearchHitPublic(BaseModel):
    score: float
    sources: dict[str, float] = Field(description="each retriever's own score for this atom")
    highlights: list[str] = Field(
        description="fragments of the text with the question's words in <em>; HTML-escaped"
    )
    path: list[str] = Field(description="graph path that made the atom relevant, if any")
    entities: list[EntityRef] = Field(description="what the atom mentions (graph context)")
    atom: AtomPublic
    citation: CitationPublic


class SearchResponse(BaseModel):
    query: str
    intent: str
    entities: list[str] = Field(description="entities recognised in the question")
    total: int = Field(
        description="matching atoms this key may see, among the top candidates of each retriever"
    )
    offset: int
    next_offset: int | None = Field(description="offset of the next page; null on the last")
    answered: bool = Field(
        description="false: the knowledge holds no reliable answer; the hits are leads only"
    )
    confidence: float = Field(description="0-1: how sure the knowledge is of an answer")
    hits: list[SearchHitPublic]


class AskRequest(FilterFields):
    question: str = Field(
        min_length=1,
        max_length=MAX_QUERY_CHARS,
        examples=["如何向宁德时代解释热失控防护方案？"],
    )
    top_k: JsonInt = Field(8, ge=1, le=50)

    model_config = {
        "json_schema_extra": {
            # A question, or entities to stand for it (422 bad_query otherwise).
            "anyOf": [
                {"properties": {"question": {"pattern": NOT_BLANK}}},
                {
                    "required": ["entities"],
                    "properties": {"entities": {"type": "array", "minItems": 1}},
                },
            ]
        }
    }


class AskResponse(BaseModel):
    answer_id: str = Field(description="give it back with feedback on this answer")
    answer: Answer
    text: str = Field(description="the answer as plain text")


class TranscriptPublic(BaseModel):
    text: str = Field(description="corrected against the graph's vocabulary")
    raw_text: str
    changes: list[str] = Field(description="heard→term replacements")
    audio_seconds: float
    compute_seconds: float


class VoiceAskResponse(AskResponse):
    transcript: TranscriptPublic


class Liveness(BaseModel):
    status: str = "ok"


class Readiness(BaseModel):
    status: str = Field(examples=["ready"], description="ready, or not_ready")
    checks: dict[str, str] = Field(
        examples=[{"neo4j": "ok", "index": "ok", "embedding_model": "ok", "speech_model": "ok"}]
    )


class AtomDetail(BaseModel):
    atom: AtomPublic
    citation: CitationPublic
    entities: list[EntityRef]
    duplicates: list[str] = Field(description="near-duplicate atoms you may see")
    feedback: dict[str, int] = Field(description="feedback events by kind")


class RelationPublic(BaseModel):
    type: str
    name: str = Field(description="the relation's wording, e.g. 关注 or IN_INDUSTRY")
    direction: str = Field(description="out: this entity -> other; in: other -> this entity")
    other: EntityRef


class EntitySummary(EntityRef):
    aliases: list[str]
    mentions: int = Field(description="atoms mentioning it that the key may see")


class EntityDetail(BaseModel):
    entity: EntityRef
    aliases: list[str]
    description: str | None
    relations: list[RelationPublic]
    atoms: list[AtomPublic] = Field(description="one page of the atoms you may see about it")
    atoms_total: int
    next_offset: int | None


class EntityPage(BaseModel):
    items: list[EntitySummary]
    total: int
    next_offset: int | None


class FeedbackKind(StrEnum):
    HELPFUL = "helpful"  # 有用
    NOT_HELPFUL = "not_helpful"  # 没用
    USED_IN_DEAL = "used_in_deal"  # 用于商机
    DEAL_WON = "deal_won"  # 赢单
    DEAL_LOST = "deal_lost"  # 丢单


class FeedbackCreate(RequestModel):
    """Feedback on an answer (all the atoms it cited), on one atom, or on one atom of an answer
    (both ids: it then counts for that question); deal outcomes name the deal (a CRM
    opportunity id)."""

    kind: FeedbackKind
    answer_id: str | None = Field(None, max_length=64)
    atom_id: str | None = Field(None, max_length=64)
    deal: str | None = Field(None, max_length=200, examples=["OPP-2026-0042"])
    comment: str | None = Field(None, max_length=2000, examples=["客户认可热扩散试验数据"])

    @model_validator(mode="after")
    def _one_target(self) -> FeedbackCreate:
        if self.answer_id is None and self.atom_id is None:
            raise ValueError("give answer_id, atom_id, or both")
        return self

    model_config = {
        "json_schema_extra": {
            "examples": [
                {"kind": "helpful", "answer_id": "ans-3f2a9c1e7b6d4a50"},
                {"kind": "deal_won", "atom_id": "atom-0123456789abcdef", "deal": "OPP-2026-0042"},
            ],
            # What `_one_target` enforces: at least one of the two ids.
            "anyOf": [
                {"required": ["answer_id"], "properties": {"answer_id": {"type": "string"}}},
                {"required": ["atom_id"], "properties": {"atom_id": {"type": "string"}}},
            ],
        }
    }


class FeedbackPublic(BaseModel):
    id: str
    kind: FeedbackKind
    atoms: int = Field(description="atoms the feedback was recorded against")
    created_at: str


class IngestJobPublic(BaseModel):
    id: str
    state: str = Field(description="queued, running, succeeded or failed")
    collection: str | None
    files: list[str]
    report: dict[str, Any] | None = Field(description="what the ingest did, once finished")
    error: str | None
    created_at: str
    started_at: str | None
    finished_at: str | None


class IngestJobPage(BaseModel):
    items: list[IngestJobPublic]
    total: int
    next_offset: int | None


# The furthest a page may start, for every paged list: far past any real list, and far below
# what Neo4j's SKIP (a 64-bit integer) or a Python slice would choke on.
MAX_OFFSET = 100_000


def next_offset(offset: int, returned: int, total: int) -> int | None:
    return offset + returned if offset + returned < total else None


class ContributionPublic(BaseModel):
    """One person's knowledge and its use (贡献度), within the report's period and team."""

    person: str = Field(
        description="an atom's owner or contributor; （未署名） for atoms with neither",
        examples=["张三"],
    )
    atoms: int = Field(description="atoms they own or contributed to, not deprecated")
    approved: int = Field(description="of those, approved")
    citations: int = Field(description="times their atoms were cited in answers")
    answers: int = Field(description="distinct answers citing at least one of their atoms")
    helpful: int = Field(description="有用: feedback events on their atoms, once per event")
    not_helpful: int = Field(description="没用")
    used_in_deal: int = Field(description="用于商机")
    deal_won: int = Field(description="赢单")
    deal_lost: int = Field(description="丢单 (reported, not scored)")
    score: int = Field(
        description="贡献度 = answers + 3×helpful + 5×used_in_deal + 10×deal_won − 2×not_helpful"
    )


class ContributionPage(BaseModel):
    items: list[ContributionPublic] = Field(description="highest score first")
    total: int = Field(description="people (and （未署名）) in the report")
    next_offset: int | None


class GapPublic(BaseModel):
    """A question the knowledge held no reliable answer for."""

    question: str = Field(examples=["白酒行业的经销商怎么管？"])
    times: int = Field(description="how often it was asked in the period")
    last_asked: str
    confidence: float | None = Field(description="the lowest confidence it got")
    teams: list[str] = Field(description="teams of the keys that asked it")
    channels: list[str] = Field(description="text, voice")


class GapPage(BaseModel):
    items: list[GapPublic] = Field(description="most asked first")
    total: int
    next_offset: int | None
