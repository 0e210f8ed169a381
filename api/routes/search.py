"""Search, ask, and ask by voice."""

from __future__ import annotations

import io
import logging
import uuid
from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, File, Form, UploadFile

from api import metrics, runtime
from api.deps import AskViewer, RefresherDep, SearchViewer, ServicesDep
from api.errors import responses
from api.schemas import (
    AskRequest,
    AskResponse,
    SearchHitPublic,
    SearchRequest,
    SearchResponse,
    TranscriptPublic,
    VoiceAskResponse,
    next_offset,
)
from api.services import Services
from api.views import atom_public, citation_public, entity_refs, visible_recognition
from kg.access import Viewer
from kg.errors import AudioError, GraphUnavailableError
from retrieval.answer import Answer
from retrieval.highlight import highlight
from retrieval.hybrid import Filters
from retrieval.visibility import EntityScope
from speech.audio import decode

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/v1", tags=["search"])
ERRORS = responses(401, 403, 422, 503)


def _scoped(filters: Filters, viewer: Viewer) -> Filters:
    """The request's filters with the caller's access rules added (never removed)."""
    return replace(filters, allow=viewer.can_see)


@router.post("/search", response_model=SearchResponse, responses=ERRORS)
def search(
    request: SearchRequest, viewer: SearchViewer, services: ServicesDep, refresher: RefresherDep
) -> SearchResponse:
    """Atoms ranked for a question (dense + lexical + graph), with highlights, citations and
    graph context. Only atoms the key may see are returned or counted."""
    current = services.current
    response = current.search.search(
        request.query, request.top_k, _scoped(request.filters(), viewer), request.offset
    )
    if response.stale:
        refresher.poke()
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


@router.post("/ask", response_model=AskResponse, responses=ERRORS)
def ask(
    request: AskRequest,
    viewer: AskViewer,
    services: ServicesDep,
    refresher: RefresherDep,
    background: BackgroundTasks,
) -> AskResponse:
    """One answer composed from the best atoms, every point cited, with graph paths."""
    answer = services.current.search.ask(
        request.question, request.top_k, _scoped(request.filters(), viewer), refresher.poke
    )
    answer_id = _remember(services, background, answer, viewer, "text")
    return AskResponse(answer_id=answer_id, answer=answer, text=answer.to_text())


@router.post(
    "/ask/voice",
    response_model=VoiceAskResponse,
    responses={**ERRORS, **responses(413)},
)
def ask_voice(
    viewer: AskViewer,
    services: ServicesDep,
    refresher: RefresherDep,
    background: BackgroundTasks,
    audio: Annotated[UploadFile, File(description="wav, mp3, m4a/aac, webm/opus or ogg")],
    top_k: Annotated[int, Form(ge=1, le=50)] = 8,
) -> VoiceAskResponse:
    """A spoken question: the transcript (raw and corrected against the graph's vocabulary)
    and the composed answer."""
    limits = runtime.audio_limits(services.settings)
    data = audio.file.read(limits.max_bytes + 1)
    if len(data) > limits.max_bytes:
        raise AudioError(f"音频文件过大（上限 {limits.max_bytes} 字节）")
    if not data:
        raise AudioError("音频文件为空")
    current = services.current
    recognition = visible_recognition(
        current.recognizer.recognize(decode(io.BytesIO(data), limits)),
        EntityScope(current.bundle.graph, viewer.can_see),
    )
    answer = current.search.ask(
        recognition.text, top_k, Filters(allow=viewer.can_see), refresher.poke
    )
    answer_id = _remember(services, background, answer, viewer, "voice")
    return VoiceAskResponse(
        answer_id=answer_id,
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


def _remember(
    services: Services, background: BackgroundTasks, answer: Answer, viewer: Viewer, channel: str
) -> str:
    """Give the answer an id and record it (after the response is sent) for feedback."""
    metrics.ANSWERS.labels(channel).inc()
    if not answer.answered or not answer.citations:
        metrics.EMPTY_ANSWERS.inc()
    answer_id = "ans-" + uuid.uuid4().hex[:16]
    background.add_task(_record, services, answer_id, answer, viewer, channel)
    return answer_id


def _record(
    services: Services, answer_id: str, answer: Answer, viewer: Viewer, channel: str
) -> None:
    try:
        services.store.record_answer(
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
            channel=channel,
        )
    except GraphUnavailableError as exc:  # the rep already has the answer; only history misses
        logger.warning("answer %s not recorded: %s", answer_id, exc)
