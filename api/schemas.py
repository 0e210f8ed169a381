"""Request and response models of the HTTP API."""

from __future__ import annotations

from pydantic import BaseModel, Field

from retrieval.answer import Answer
from retrieval.service import MAX_QUERY_CHARS


class SearchRequest(BaseModel):
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
    atom: AtomPublic
    citation: CitationPublic


class SearchResponse(BaseModel):
    query: str
    hits: list[SearchHitPublic]


class AskRequest(BaseModel):
    question: str = Field(
        min_length=1, max_length=MAX_QUERY_CHARS, examples=["如何向宁德时代解释热失控防护方案？"]
    )
    top_k: int = Field(8, ge=1, le=50)


class AskResponse(BaseModel):
    answer: Answer
    text: str


class Health(BaseModel):
    status: str
    neo4j: str
    atoms: int
    indexed: int


class ErrorBody(BaseModel):
    code: str
    message: str
