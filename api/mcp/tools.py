"""What each MCP tool does for one caller, on the running services.

Every call starts from the caller's API key: it is verified (a revoked key stops working
within ``SKG_AUTH_CACHE_SECONDS``), rate-limited like an HTTP request, and its scopes are
checked as the HTTP API checks them (``search``; ``ask``; ``search`` or ``ask`` for reading
atoms and entities). Retrieval and reading go through the same code as the API: the
``SearchService`` with the caller's ``Viewer.can_see`` as a filter, and the functions that
answer ``/v1/atoms`` and ``/v1/entities``. A hidden atom is "not found", exactly as over HTTP.
"""

from __future__ import annotations

import uuid

from pydantic import BaseModel, Field

from api.ratelimit import RateLimits
from api.refresh import IndexRefresher
from api.routes import knowledge
from api.routes.search import record_answer, scoped, search_response
from api.schemas import (
    AskRequest,
    AtomDetail,
    EntityDetail,
    EntityPage,
    SearchRequest,
    SearchResponse,
)
from api.state import Services
from kg.access import Scope, Viewer
from kg.errors import PermissionDeniedError
from kg.models import EntityKind
from retrieval.answers.answer import Answer

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
        return search_response(self._services, request, viewer, self._refresher.poke)

    def ask(self, key: str, request: AskRequest) -> AskResult:
        viewer = self.caller(key, Scope.ASK)
        answer = self._services.current.search.ask(
            request.question,
            request.top_k,
            scoped(request.filters(), viewer),
            self._refresher.poke,
        )
        answer_id = "ans-" + uuid.uuid4().hex[:16]
        record_answer(self._services, answer_id, answer, viewer, CHANNEL)
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
