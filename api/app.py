"""The FastAPI application: health, search and ask over the sales knowledge graph."""

from __future__ import annotations

import io
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import FastAPI, File, Form, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from api import runtime
from api.deps import IndexDep, SearchDep, StoreDep
from api.schemas import (
    AskRequest,
    AskResponse,
    AtomPublic,
    CitationPublic,
    ErrorBody,
    Health,
    SearchHitPublic,
    SearchRequest,
    SearchResponse,
    TranscriptPublic,
    VoiceAskResponse,
)
from api.settings import Settings
from kg.errors import (
    AudioError,
    BadQueryError,
    GraphAuthError,
    GraphUnavailableError,
    IndexNotReadyError,
    SkgError,
)
from retrieval.index_bundle import IndexBundle
from speech.audio import decode

logger = logging.getLogger(__name__)

STATUS_BY_ERROR: tuple[tuple[type[SkgError], int, str], ...] = (
    (BadQueryError, 422, "bad_query"),
    (AudioError, 422, "bad_audio"),
    (GraphUnavailableError, 503, "graph_unavailable"),
    (GraphAuthError, 503, "graph_auth"),
    (IndexNotReadyError, 503, "index_not_ready"),
)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = runtime.open_store(settings)
        embedder = runtime.load_embedder(settings)
        bundle = IndexBundle.load(settings.index_path)
        app.state.store = store
        app.state.index = bundle
        app.state.search = runtime.search_service(settings, store, embedder, bundle)
        app.state.recognizer = runtime.load_recognizer(settings, bundle)
        yield
        store.close()

    app = FastAPI(
        title="SalesKG 销售知识图谱",
        version="0.1.0",
        summary="Search and answers over a sales knowledge graph, with citations.",
        lifespan=lifespan,
    )

    @app.exception_handler(SkgError)
    async def skg_error(_: Request, exc: SkgError) -> JSONResponse:
        status, code = _status_for(exc)
        headers = {"Retry-After": "5"} if status == 503 else None
        body = ErrorBody(code=code, message=str(exc)).model_dump()
        return JSONResponse(status_code=status, content=body, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        body = ErrorBody(
            code="invalid_request", message=f"请求格式错误 (invalid request): {details}"
        )
        return JSONResponse(status_code=422, content=body.model_dump())

    @app.get("/health", response_model=Health)
    def health(store: StoreDep, index: IndexDep) -> Health:
        counts = store.counts()
        return Health(status="ok", neo4j="up", atoms=counts["atoms"], indexed=len(index.versions))

    @app.post("/v1/search", response_model=SearchResponse)
    def search(request: SearchRequest, service: SearchDep) -> SearchResponse:
        response = service.search(request.query, request.top_k, request.filters())
        return SearchResponse(
            query=request.query,
            intent=response.query.intent.value,
            entities=[e.surface for e in response.query.entities],
            hits=[
                SearchHitPublic(
                    score=r.score,
                    sources=r.sources,
                    path=list(r.path),
                    atom=AtomPublic(
                        id=r.atom.atom.id,
                        type=r.atom.atom.type.value,
                        title=r.atom.atom.title,
                        text=r.atom.atom.text,
                        status=r.atom.atom.status,
                        version=r.atom.atom.version,
                    ),
                    citation=CitationPublic(
                        document_id=r.atom.atom.source.document_id,
                        document_title=r.atom.document_title,
                        document_path=r.atom.document_path,
                        section=r.atom.atom.source.section,
                        start=r.atom.atom.source.start,
                        end=r.atom.atom.source.end,
                    ),
                )
                for r in response.results
            ],
        )

    @app.post("/v1/ask", response_model=AskResponse)
    def ask(request: AskRequest, service: SearchDep) -> AskResponse:
        answer = service.ask(request.question, request.top_k, request.filters())
        return AskResponse(answer=answer, text=answer.to_text())

    @app.post("/v1/ask/voice", response_model=VoiceAskResponse)
    def ask_voice(
        service: SearchDep,
        request: Request,
        audio: Annotated[UploadFile, File(description="wav, mp3, m4a/aac, webm/opus or ogg")],
        top_k: Annotated[int, Form(ge=1, le=50)] = 8,
    ) -> VoiceAskResponse:
        """A spoken question: the transcript (raw and corrected) and the composed answer."""
        limits = runtime.audio_limits(settings)
        limit = limits.max_bytes
        data = audio.file.read(limit + 1)
        if len(data) > limit:
            raise AudioError(f"音频文件过大（上限 {limit} 字节）")
        if not data:
            raise AudioError("音频文件为空")
        recognition = request.app.state.recognizer.recognize(decode(io.BytesIO(data), limits))
        answer = service.ask(recognition.text, top_k)
        return VoiceAskResponse(
            transcript=TranscriptPublic(
                text=recognition.text,
                raw_text=recognition.raw.text,
                changes=[f"{c.heard}→{c.term}" for c in recognition.changes],
                audio_seconds=recognition.raw.audio_seconds,
                compute_seconds=recognition.raw.compute_seconds,
            ),
            answer=answer,
            text=answer.to_text(),
        )

    return app


def _status_for(exc: SkgError) -> tuple[int, str]:
    """The HTTP status and error code of a SalesKG error (the only place they are chosen)."""
    for error_type, status, code in STATUS_BY_ERROR:
        if isinstance(exc, error_type):
            return status, code
    logger.error("unmapped error %s: %s", type(exc).__name__, exc)
    return 500, "internal"
