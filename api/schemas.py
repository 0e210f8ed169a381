"""Request and response models of the HTTP API."""

from __future__ import annotations

from pydantic import BaseModel, Field

from kg.models import AtomType, CurationStatus, Visibility
from retrieval.answer import Answer
from retrieval.hybrid import Filters
from retrieval.service import MAX_QUERY_CHARS


class FilterFields(BaseModel):
    """Optional filters: atom types, curation statuses, visibilities, and entities (customers,
    industries...) the atoms must mention, by id (``customer:宁德时代``), name or alias."""

    types: list[AtomType] | None = Field(None, examples=[["case", "lesson"]])
    statuses: list[CurationStatus] | None = Field(None, examples=[["approved"]])
    entities: list[str] | None = Field(None, examples=[["customer:宁德时代"]])
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
    query: str = Field(
        min_length=1,
        max_length=MAX_QUERY_CHARS,
        examples=["如何向宁德时代解释热失控防护方案？"],
    )
    top_k: int = Field(8, ge=1, le=50)


class AtomPublic(BaseModel):
    id: str
    type: str
    title: str
    text: str
    status: str
    version: int


class CitationPublic(BaseModel):
    document_id: str
    document_title: str
    document_path: str
    section: str
    start: int
    end: int


class SearchHitPublic(BaseModel):
    score: float
    sources: dict[str, float] = Field(description="each retriever's own score for this atom")
    path: list[str] = Field(description="graph path that made the atom relevant, if any")
    atom: AtomPublic
    citation: CitationPublic


class SearchResponse(BaseModel):
    query: str
    intent: str
    entities: list[str]
    hits: list[SearchHitPublic]


class AskRequest(FilterFields):
    question: str = Field(
        min_length=1, max_length=MAX_QUERY_CHARS, examples=["如何向宁德时代解释热失控防护方案？"]
    )
    top_k: int = Field(8, ge=1, le=50)


class AskResponse(BaseModel):
    answer: Answer
    text: str


class TranscriptPublic(BaseModel):
    text: str = Field(description="corrected against the graph's vocabulary")
    raw_text: str
    changes: list[str] = Field(description="heard→term replacements")
    audio_seconds: float
    compute_seconds: float


class VoiceAskResponse(AskResponse):
    transcript: TranscriptPublic


class Health(BaseModel):
    status: str
    neo4j: str
    atoms: int
    indexed: int


class ErrorBody(BaseModel):
    code: str
    message: str
