"""Request and response models of the HTTP API."""

from __future__ import annotations

import re
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from api.push_rules import MAX_RULES, EventKind, PushRule, check_rule_set
from kg.models import AtomType, CurationStatus, Visibility
from retrieval.answers.answer import Answer, Citation
from retrieval.answers.brief_sections import Brief, BriefContext, Stage, parse_stage
from retrieval.retrievers.hybrid import Filters
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


def _json_boolean(value: object) -> object:
    """A JSON boolean, not ``1`` nor ``"true"``, which pydantic would otherwise convert."""
    if not isinstance(value, bool):
        raise ValueError("Input should be a valid boolean: true or false")
    return value


JsonBool = Annotated[bool, BeforeValidator(_json_boolean)]


def _iso_time(value: object) -> object:
    """An ISO 8601 string, not a number (pydantic would read ``0`` as 1970-01-01)."""
    if not isinstance(value, str):
        raise ValueError("a time is written in ISO 8601, e.g. 2026-12-01T09:30:00+08:00")
    return value


IsoTime = Annotated[datetime, BeforeValidator(_iso_time)]


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


# A conversation's id, as the server made it (a follow-up sends it back).
ConversationId = Annotated[str, Field(pattern=r"^conv-[0-9a-f]{32}$", max_length=37)]


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
    conversation_id: ConversationId | None = Field(
        None,
        description="continue a conversation (from an earlier answer of this key): the "
        "question is read as a follow-up; omitted, a new conversation starts",
    )
    stream: JsonBool = Field(
        False,
        description="send server-sent events (as `Accept: text/event-stream` does): "
        "understanding, section..., citations, token..., done",
    )

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
    conversation_id: str = Field(
        description="send it with the next question to ask a follow-up",
        examples=["conv-3f2a9c1e7b6d4a5012ab34cd56ef7890"],
    )
    turn: int | None = Field(
        description="this question's number in the conversation; null if it was not kept "
        "(the graph was briefly unreachable)"
    )


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


# -- review: atoms knowledge managers should look at (GET /v1/review) -------------------------
class ReviewKind(StrEnum):
    """Which review list: as curation/02 (flagged, invalid) and curation/21 (stale)."""

    FLAGGED = "flagged"  # a review flag: source_changed, disputed, stale
    STALE = "stale"  # not verified for `days` days (never verified: since created)
    INVALID = "invalid"  # missing or invalid fields (hidden from search until fixed)


class ReviewItem(BaseModel):
    """An atom to look at, with why, and a link that opens it in Neo4j Browser."""

    id: str
    title: str | None = Field(description="null when the title is missing (invalid atoms)")
    type: str | None
    type_label: str = Field(description="the type in Chinese, e.g. 成功案例; 未知类型 if invalid")
    status: str | None
    review: str | None = Field(
        description="the review flag: source_changed, disputed, stale; null if none"
    )
    review_label: str | None = Field(description="the flag in Chinese, e.g. 来源已变")
    note: str | None = Field(description="why it was flagged, in words")
    problems: list[str] = Field(description="invalid fields, e.g. 可见范围无效 visibility=all")
    unverified_days: int | None = Field(
        description="stale list: days since last verified (or created)"
    )
    document_title: str | None
    document_path: str | None
    updated_at: str | None
    browser_url: str = Field(description="Neo4j Browser with a query that opens the atom")


class ReviewPage(BaseModel):
    kind: ReviewKind
    items: list[ReviewItem]
    total: int = Field(description="atoms of this list the key may see")
    next_offset: int | None


# -- conversations, streaming and chat clients (issue 16) ------------------------------------
class TurnPublic(BaseModel):
    n: int = Field(description="the turn's number, from 1")
    question: str = Field(description="as asked")
    resolved: str = Field(description="as read: a follow-up spelled out")
    followup: bool
    intent: str | None
    answer_id: str | None
    answered: bool | None
    channel: str | None = Field(description="text, voice or chat")
    created_at: str


class ConversationPublic(BaseModel):
    id: str
    created_at: str
    updated_at: str
    turns: list[TurnPublic] = Field(description="oldest first (at most 100)")


class UnderstandingEvent(BaseModel):
    """The first event of a streamed answer: how the question was read."""

    question: str = Field(description="as asked")
    understood_as: str | None = Field(description="a follow-up spelled out; null otherwise")
    understood: str = Field(description="the 理解：… line the page shows")
    intent: str
    entities: list[str]
    note: str | None
    conversation_id: str


class TokenEvent(BaseModel):
    text: str = Field(description="the next piece of the polished prose")


class DeclinedEvent(BaseModel):
    """No reliable answer: the statement, and the nearest atoms as leads (not an answer)."""

    text: str
    confidence: float
    leads: list[Citation]


class DoneEvent(BaseModel):
    answer_id: str
    conversation_id: str
    turn: int | None
    answered: bool
    confidence: float


class ChatContentPart(BaseModel):
    type: str = Field(examples=["text"])
    text: str | None = None


class ChatMessage(BaseModel):
    """A message as OpenAI-style clients send it; content as text or text parts."""

    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    # Not bounded here: earlier answers come back in full; the body limit bounds them all
    # (SKG_MAX_JSON_BYTES x 16 for chat), and a question over 500 characters is refused.
    content: str | list[ChatContentPart] | None = None
    name: str | None = Field(None, max_length=200)

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(p.text or "" for p in self.content if p.type == "text")
        return self.content or ""


class ChatCompletionRequest(BaseModel):
    """An OpenAI-style chat completion: the last user message is the question, the user
    messages before it the conversation. Options of other models (temperature, max_tokens,
    tools...) are accepted and ignored, so chat front ends work unchanged."""

    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {
                    "model": "saleskg",
                    "messages": [
                        {"role": "user", "content": "宁德时代的热失控方案怎么讲？"},
                        {"role": "assistant", "content": "…"},
                        {"role": "user", "content": "那比亚迪呢？"},
                    ],
                    "stream": False,
                }
            ]
        },
    )

    model: str = Field(max_length=100, examples=["saleskg"])
    messages: list[ChatMessage] = Field(min_length=1, max_length=100)
    stream: JsonBool = False
    n: JsonInt = Field(1, ge=1, le=1, description="one answer only")
    user: str | None = Field(None, max_length=200)


class ChatCompletionMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class ChatChoice(BaseModel):
    index: int = 0
    message: ChatCompletionMessage
    finish_reason: Literal["stop"] = "stop"


class SalesKgExtension(BaseModel):
    """The structured answer beside the text, for clients that know SalesKG."""

    answer_id: str = Field(description="give it back with feedback (POST /v1/feedback)")
    answered: bool = Field(description="false: no reliable answer; `leads` are not an answer")
    confidence: float
    understood_as: str | None = Field(description="the question as read (a follow-up spelled out)")
    intent: str
    citations: list[Citation] = Field(description="numbered as the [n] in the text")
    leads: list[Citation]


class ChatCompletion(BaseModel):
    id: str = Field(examples=["chatcmpl-ans-3f2a9c1e7b6d4a50"])
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChatChoice]
    saleskg: SalesKgExtension


class ModelPublic(BaseModel):
    id: str = Field(examples=["saleskg"])
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "saleskg"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelPublic]


# -- briefs and pushes (issue 17) ----------------------------------------------------------------
def _stage(value: object) -> object:
    """A stage by its Chinese name (技术交流) or an alias (technical)."""
    return parse_stage(value) if isinstance(value, str) else value


StageField = Annotated[
    Stage,
    BeforeValidator(_stage),
    Field(description="线索, 需求确认, 技术交流, 方案, 商务谈判 or 签约", examples=["技术交流"]),
]
ContextText = Annotated[str, Field(min_length=1, max_length=100, pattern=NOT_BLANK)]
MAX_CONTEXT_ITEMS = 10
MAX_NOTES_CHARS = 4000


class OpportunityFields(RequestModel):
    """An opportunity as the CRM holds it."""

    customer: ContextText = Field(
        description="the customer's name, an alias (CATL) or its id (customer:宁德时代)",
        examples=["宁德时代"],
    )
    industry: ContextText | None = Field(None, examples=["动力电池"])
    products: list[ContextText] = Field(
        default_factory=list, max_length=MAX_CONTEXT_ITEMS, examples=[["电池包热失控防护方案"]]
    )
    competitors: list[ContextText] = Field(
        default_factory=list, max_length=MAX_CONTEXT_ITEMS, examples=[["锐驰科技"]]
    )
    roles: list[ContextText] = Field(
        default_factory=list,
        max_length=MAX_CONTEXT_ITEMS,
        description="the contacts' roles",
        examples=[["电池安全负责人", "采购总监"]],
    )


class BriefRequest(OpportunityFields):
    """What a CRM knows of an opportunity; no question needed."""

    stage: StageField
    notes: str = Field(
        "",
        max_length=MAX_NOTES_CHARS,
        description="recent notes, email summaries",
        examples=["客户关心热扩散试验数据，采购担心每kWh成本"],
    )

    def context(self) -> BriefContext:
        return BriefContext(
            customer=self.customer.strip(),
            stage=self.stage,
            industry=self.industry,
            products=tuple(self.products),
            competitors=tuple(self.competitors),
            roles=tuple(self.roles),
            notes=self.notes,
        )

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "customer": "宁德时代",
                    "stage": "技术交流",
                    "roles": ["电池安全负责人"],
                    "notes": "客户关心热扩散试验数据",
                }
            ]
        }
    }


class BriefResponse(BaseModel):
    brief: Brief
    text: str = Field(description="the brief as plain text")


class EventCreate(OpportunityFields):
    """A CRM event on an opportunity; rules decide whether it warrants a push."""

    kind: EventKind
    opportunity_id: ContextText = Field(examples=["OPP-2026-0042"])
    rep: ContextText | None = Field(
        None, description="who the push is for (the CRM's user); default: the key's user"
    )
    stage: StageField | None = None
    previous_stage: StageField | None = None
    text: str = Field(
        "",
        max_length=MAX_NOTES_CHARS,
        description="the note, the email summary, or the words searched",
        examples=["客户采购总监说我们比锐驰科技贵了15%，嫌贵"],
    )
    metric: str | None = Field(None, min_length=1, max_length=60, examples=["win_probability"])
    value: float | None = Field(None, allow_inf_nan=False, examples=[0.25])
    occurred_at: IsoTime | None = None

    @model_validator(mode="after")
    def _complete(self) -> EventCreate:
        if self.kind is EventKind.STAGE_CHANGE and self.stage is None:
            raise ValueError("a stage_change event needs its new stage")
        if self.kind is EventKind.METRIC_THRESHOLD and (self.metric is None or self.value is None):
            raise ValueError("a metric_threshold event needs metric and value")
        return self

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "kind": "note",
                    "opportunity_id": "OPP-2026-0042",
                    "customer": "宁德时代",
                    "rep": "张伟",
                    "text": "客户采购总监说我们比锐驰科技贵了15%，嫌贵",
                },
                {
                    "kind": "metric_threshold",
                    "opportunity_id": "OPP-2026-0042",
                    "customer": "宁德时代",
                    "metric": "win_probability",
                    "value": 0.25,
                },
            ]
        }
    }


class PushOutcome(BaseModel):
    """What one fired rule did."""

    rule_id: str
    rule_name: str
    reason: str = Field(examples=["首次提到竞品：锐驰科技"])
    state: str = Field(
        description="queued (to be delivered), duplicate (the same push was made before), "
        "rate_limited (the rep had enough this hour) or empty (no knowledge to push)"
    )
    push_id: str | None


class EventAccepted(BaseModel):
    event_id: str
    opportunity_id: str
    pushes: list[PushOutcome] = Field(description="one per rule the event fired")


class PushRules(BaseModel):
    rules: list[PushRule]


class PushRulesUpdate(RequestModel):
    """The whole rule set; it replaces the current one."""

    rules: list[PushRule] = Field(max_length=MAX_RULES)

    @model_validator(mode="after")
    def _unique(self) -> PushRulesUpdate:
        check_rule_set(self.rules)
        return self


class PushPublic(BaseModel):
    id: str
    opportunity_id: str
    customer: str
    rep: str
    rule_id: str
    rule_name: str
    reason: str
    state: str = Field(description="pending, sending, delivered or failed")
    attempts: int
    last_status: int | None = Field(description="the webhook's last HTTP status")
    last_error: str | None = Field(description="the last failure's kind, e.g. HTTP 500")
    created_at: str
    delivered_at: str | None
    brief: Brief = Field(description="what was pushed: one section, every point cited")


class PushPage(BaseModel):
    items: list[PushPublic]
    total: int
    next_offset: int | None
