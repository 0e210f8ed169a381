"""The MCP server: SalesKG's tools on the official ``mcp`` SDK, over stdio or streamable HTTP.

Over stdio (an agent starts ``skg mcp``) one key, given at start-up, is the caller of every
call. Over HTTP (``skg mcp --http``) each request brings its own key in
``Authorization: Bearer``: a request without a valid one is refused with 401 before it
reaches the MCP session, and every tool call checks the key again. A key without the scope
a tool needs, an atom it may not see, a bad argument: each is a tool error whose text is the
HTTP API's error body (``code``, ``message``, ``message_en``, ``detail``, ``request_id``).
"""

# No `from __future__ import annotations`: the SDK reads the tools' parameter and return
# annotations as objects to build their input and output schemas.
import json
import logging
import uuid
from collections.abc import Callable, Mapping
from typing import Annotated, TypeVar

import anyio.to_thread
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import Field, ValidationError
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from api.context import request_id, set_request_id
from api.errors import (
    INVALID_REQUEST,
    SERVER_SIDE_DETAIL,
    ErrorBody,
    Problem,
    problem_for,
    skg_error_response,
    validation_detail,
)
from api.keys import ApiKeys
from api.mcp.tools import AskResult, KnowledgeTools
from api.schemas import (
    MAX_OFFSET,
    AskRequest,
    AtomDetail,
    EntityDetail,
    EntityPage,
    SearchRequest,
    SearchResponse,
)
from kg.errors import AuthenticationError, SkgError
from kg.models import AtomType, EntityKind

logger = logging.getLogger(__name__)

T = TypeVar("T")
READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)

INSTRUCTIONS = """\
SalesKG (销售知识图谱) answers Chinese B2B sales questions from a knowledge graph of success
cases (成功案例), loss reviews (复盘教训), terms (术语), talk tracks (话术) and objections
(异议处理), every point cited to its source. Use `ask` for a rep's question
(e.g. "如何向宁德时代解释热失控防护方案？"), `search` for ranked atoms, `get_atom` to read one
in full, and `find_entities` / `get_entity` for customers, products, competitors and terms.
When an answer says `answered: false`, the knowledge has no reliable answer: say so and show
the leads as leads only. You see only what your API key may see."""

SEARCH = """\
Search the sales knowledge graph: knowledge atoms ranked for a question (dense + lexical +
graph retrieval), each with highlights, its citation (document and section), the graph path
that made it relevant and the entities it mentions. Give a question in Chinese, e.g.
query="CATL那边问热失控怎么防，我该怎么讲？", or only context, e.g. entities=["宁德时代"] with
types=["case", "lesson"] (成功案例, 复盘教训). `answered: false` means no reliable answer:
the hits are leads only. Page with `offset` and `top_k` (`next_offset`, `total`)."""

ASK = """\
One answer composed from the best atoms: sections of points (核心要点, 推荐话术, 术语解释,
支撑案例, 风险与教训...), each point citing numbered `citations` (atom, source document,
section, graph path). E.g. question="如何向宁德时代解释热失控防护方案？". `answer.answered`
false: the knowledge has no reliable answer; tell the user so and present `answer.leads`
only as leads, never as the answer. `answer.confidence` is 0-1; `text` is the answer as plain
text; `answer_id` names the answer (for feedback)."""

GET_ATOM = """\
One knowledge atom by id (from `search` hits or `ask` citations, e.g. "atom-3f9c2e…"): its full
text, type (e.g. 成功案例), status, source document and section, the entities it mentions,
near-duplicates and feedback counts. An atom your key may not see is "not found"."""

FIND_ENTITIES = """\
Find customers, industries, products, competitors, terms... by part of a name or alias, most
mentioned first: q="宁德" finds 宁德时代 (alias CATL), q="热失控" the term. `kind` narrows
to Customer, Industry, Product, Competitor, Term, Region, Role, Person or Thing. Each result's
`id` (e.g. "customer:宁德时代") opens it with `get_entity`."""

GET_ENTITY = """\
One entity by id, e.g. "customer:宁德时代" or "term:热失控": its aliases, description, its
relations to other entities (IN_INDUSTRY, BUYS, COMPETES_WITH, CARES_ABOUT...) and a page of
the atoms about it (`atoms_total`, `next_offset`). Names only what your key may see."""

# The tools' parameters, documented for agents (the HTTP API's limits).
Question = Annotated[str, Field(max_length=500, description="the question, in Chinese")]
Entities = Annotated[
    list[str] | None,
    Field(max_length=20, description='context the atoms must mention, e.g. ["宁德时代"]'),
]
Types = Annotated[
    list[AtomType] | None,
    Field(description="only these atom types, e.g. case (成功案例), lesson (复盘教训)"),
]
TopK = Annotated[int, Field(ge=1, le=50, description="how many atoms")]
Offset = Annotated[int, Field(ge=0, le=MAX_OFFSET, description="where the page starts")]
Limit = Annotated[int, Field(ge=1, le=100, description="page size")]
AtomId = Annotated[str, Field(min_length=1, max_length=64, description='e.g. "atom-3f9c2e…"')]
EntityId = Annotated[
    str, Field(min_length=1, max_length=200, description='e.g. "customer:宁德时代"')
]
NamePart = Annotated[str | None, Field(max_length=100, description="part of a name or alias")]


def build_server(tools: KnowledgeTools, key: str | None = None) -> MCPServer:
    """The MCP server. ``key``: the caller of every call (stdio); None: each HTTP request's
    bearer key."""
    server = MCPServer(
        "saleskg", title="SalesKG 销售知识图谱", instructions=INSTRUCTIONS, log_level="WARNING"
    )

    def caller_key(ctx: Context) -> str:
        return key if key is not None else bearer_key(ctx.headers)

    @server.tool(description=SEARCH, annotations=READ_ONLY)
    def search(
        ctx: Context,
        query: Question = "",
        entities: Entities = None,
        types: Types = None,
        top_k: TopK = 8,
        offset: Annotated[int, Field(ge=0, le=450)] = 0,
    ) -> SearchResponse:
        return _call(
            lambda: tools.search(
                caller_key(ctx),
                SearchRequest(
                    query=query, entities=entities, types=types, top_k=top_k, offset=offset
                ),
            )
        )

    @server.tool(description=ASK, annotations=READ_ONLY)
    def ask(
        ctx: Context,
        question: Question,
        entities: Entities = None,
        types: Types = None,
        top_k: TopK = 8,
    ) -> AskResult:
        return _call(
            lambda: tools.ask(
                caller_key(ctx),
                AskRequest(question=question, entities=entities, types=types, top_k=top_k),
            )
        )

    @server.tool(description=GET_ATOM, annotations=READ_ONLY)
    def get_atom(ctx: Context, atom_id: AtomId) -> AtomDetail:
        return _call(lambda: tools.get_atom(caller_key(ctx), atom_id))

    @server.tool(description=FIND_ENTITIES, annotations=READ_ONLY)
    def find_entities(
        ctx: Context,
        q: NamePart = None,
        kind: EntityKind | None = None,
        offset: Offset = 0,
        limit: Limit = 20,
    ) -> EntityPage:
        return _call(
            lambda: tools.find_entities(
                caller_key(ctx), q.strip() if q else None, kind, offset, limit
            )
        )

    @server.tool(description=GET_ENTITY, annotations=READ_ONLY)
    def get_entity(
        ctx: Context, entity_id: EntityId, offset: Offset = 0, limit: Limit = 20
    ) -> EntityDetail:
        return _call(lambda: tools.get_entity(caller_key(ctx), entity_id, offset, limit))

    return server


def bearer_key(headers: Mapping[str, str] | None) -> str:
    """The key of ``Authorization: Bearer <key>``; ``AuthenticationError`` without one."""
    scheme, _, key = (headers or {}).get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise AuthenticationError("缺少 API 密钥 (no API key: send Authorization: Bearer <key>)")
    return key.strip()


def _call(work: Callable[[], T]) -> T:
    """Run a tool; our errors become a tool error carrying the API's error body."""
    set_request_id(uuid.uuid4().hex[:16])
    try:
        return work()
    except ValidationError as exc:
        raise ToolError(_body(INVALID_REQUEST, validation_detail(exc.errors()))) from exc
    except SkgError as exc:
        problem = problem_for(exc)
        if problem.status >= 500:  # the cause stays in the log, as over HTTP
            logger.error("tool failed: %s: %s", type(exc).__name__, exc)
            raise ToolError(_body(problem, SERVER_SIDE_DETAIL)) from exc
        raise ToolError(_body(problem, str(exc))) from exc


def _body(problem: Problem, detail: str) -> str:
    body = ErrorBody(
        code=problem.code,
        message=problem.message,
        message_en=problem.message_en,
        detail=detail,
        request_id=request_id(),
    )
    return json.dumps(body.model_dump(), ensure_ascii=False)


class BearerKeys:
    """ASGI middleware: MCP over HTTP only with a valid API key (401 otherwise, in the API's
    error shape, with ``WWW-Authenticate: Bearer``)."""

    def __init__(self, app: ASGIApp, keys: ApiKeys) -> None:
        self._app = app
        self._keys = keys

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            set_request_id(uuid.uuid4().hex[:16])
            try:
                key = bearer_key(Headers(scope=scope))
                await anyio.to_thread.run_sync(self._keys.verify, key)
            except SkgError as exc:
                await skg_error_response(exc)(scope, receive, send)
                return
        await self._app(scope, receive, send)


def http_app(server: MCPServer, keys: ApiKeys, host: str) -> ASGIApp:
    """The streamable HTTP app (endpoint ``/mcp``) behind the key check."""
    return BearerKeys(server.streamable_http_app(host=host), keys)
