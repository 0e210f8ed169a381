"""What each MCP tool does for one caller, on the running services.

Every call starts from the caller's API key: it is verified (a revoked key stops working
within ``SKG_AUTH_CACHE_SECONDS``), rate-limited like an HTTP request, and its scopes are
checked as the HTTP API checks them (``search``; ``ask``; ``search`` or ``ask`` for reading
atoms and entities). Retrieval and reading go through the same code as the API: the
``SearchService`` with the caller's ``Viewer.can_see`` as a filter, and the functions that
answer ``/v1/atoms`` and ``/v1/entities``. A hidden atom is "not found", exactly as over HTTP.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import replace

from pydantic import BaseModel, Field

from api.ratelimit import RateLimits
from api.refresh import IndexRefresher
from api.routes import knowledge
from api.schemas import (
    AskRequest,
    AtomDetail,
    EntityDetail,
    EntityPage,
    SearchHitPublic,
    SearchRequest,
    SearchResponse,
    next_offset,
)
from api.state import Services
from api.views import atom_public, citation_public, entity_refs
from kg.access import Scope, Viewer
from kg.errors import GraphUnavailableError, PermissionDeniedError
from kg.models import EntityKind
from retrieval.answers.answer import Answer
from retrieval.answers.highlight import highlight
from retrieval.retrievers.hybrid import Filters

logger = logging.getLogger(__name__)

CHANNEL = "mcp"  # how answers are recorded (knowledge gaps list the channels)
READERS = (Scope.SEARCH, Scope.ASK)


class AskResult(BaseModel):
    """What ``ask`` gives an agent: the composed answer, with citations, ``answered`` and
    ``confidence`` (the HTTP API's answer, without its conversation fields)."""

    answer_id: str = Field(description="names this answer (recorded for feedback and gaps)")
    answer: Answer
    text: str = Field(description="the answer as plain text")


class KnowledgeTools:
    """The MCP tools as plain methods: a key in, an API response model out."""

    def __init__(self, services: Services, refresher: IndexRefresher, limits: RateLimits) -> None:
        self._services = services
        self._refresher = refresher
        self._limits = limits

    def caller(self, key: str, *scopes: Scope) -> Viewer:
        """The key's caller, after its rate limit, if it has one of ``scopes``."""
        viewer = self._services.keys.verify(key)
        self._limits.take("key:" + viewer.key_id, upload=False)
        if not any(viewer.allows(s) for s in scopes):
            names = " 或 ".join(s.value for s in scopes)
            raise PermissionDeniedError(
                f"该密钥没有 {names} 权限 (the key lacks the {names} scope)"
            )
        return viewer

    def search(self, key: str, request: SearchRequest) -> SearchResponse:
        viewer = self.caller(key, Scope.SEARCH)
        current = self._services.current
        response = current.search.search(
            request.query, request.top_k, _scoped(request.filters(), viewer), request.offset
        )
        if response.stale:
            self._refresher.poke()
        terms = [*response.query.tokens, *(e.surface for e in response.query.entities)]
        graph = current.bundle.graph
        return SearchResponse(
            query=request.query,
            intent=response.query.intent.value,
            entities=[e.surface for e in response.query.entities],
            total=response.total,
            offset=request.offset,
            next_offset=next_offset(request.offset, len(response.results), response.total),
            answered=response.answered,
            confidence=round(response.confidence, 4),
            hits=[
                SearchHitPublic(
                    score=r.score,
                    sources=r.sources,
                    highlights=highlight(r.atom.atom.text, terms),
                    path=list(r.path),
                    entities=entity_refs(r.atom.atom.entities, graph),
                    atom=atom_public(r.atom),
                    citation=citation_public(r.atom),
                )
                for r in response.results
            ],
        )

    def ask(self, key: str, request: AskRequest) -> AskResult:
        viewer = self.caller(key, Scope.ASK)
        answer = self._services.current.search.ask(
            request.question,
            request.top_k,
            _scoped(request.filters(), viewer),
            self._refresher.poke,
        )
        answer_id = "ans-" + uuid.uuid4().hex[:16]
        self._record(answer_id, answer, viewer)
        return AskResult(answer_id=answer_id, answer=answer, text=answer.to_text())

    def get_atom(self, key: str, atom_id: str) -> AtomDetail:
        return knowledge.read_atom(atom_id, self.caller(key, *READERS), self._services)

    def find_entities(
        self, key: str, q: str | None, kind: EntityKind | None, offset: int, limit: int
    ) -> EntityPage:
        viewer = self.caller(key, *READERS)
        return knowledge.find_entities(viewer, self._services, q, kind, offset, limit)

    def get_entity(self, key: str, entity_id: str, offset: int, limit: int) -> EntityDetail:
        viewer = self.caller(key, *READERS)
        return knowledge.read_entity(entity_id, viewer, self._services, offset, limit)

    def _record(self, answer_id: str, answer: Answer, viewer: Viewer) -> None:
        """Keep the answer for feedback and knowledge gaps, as the HTTP API does."""
        try:
            self._services.store.record_answer(
                answer_id,
                answer.question,
                answer.intent,
                [c.atom_id for c in answer.citations],
                answered=answer.answered,
                confidence=answer.confidence,
                leads=[c.atom_id for c in answer.leads],
                key_id=viewer.key_id,
                team=viewer.team,
                user=viewer.user,
                channel=CHANNEL,
            )
        except GraphUnavailableError as exc:  # the agent has its answer; only history misses
            logger.warning("answer %s not recorded: %s", answer_id, exc)


def _scoped(filters: Filters, viewer: Viewer) -> Filters:
    """The request's filters with the caller's access rules added (never removed)."""
    return replace(filters, allow=viewer.can_see)
