"""Search, ask, and ask by voice; conversations of follow-up questions, and answers streamed
as server-sent events (api/streaming.py)."""

from __future__ import annotations

import io
import logging
import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, File, Form, Path, Request, UploadFile
from fastapi.responses import StreamingResponse

from api import assembly, metrics
from api.deps import AskViewer, RefresherDep, SearchViewer, ServicesDep
from api.errors import responses
from api.schemas import (
    AskRequest,
    AskResponse,
    ConversationPublic,
    DoneEvent,
    SearchHitPublic,
    SearchRequest,
    SearchResponse,
    TranscriptPublic,
    VoiceAskResponse,
    next_offset,
)
from api.state import Searchable, Services
from api.streaming import (
    EVENT_STREAM,
    SSE_EVENT_SCHEMA,
    AnswerRun,
    Prepared,
    sse,
    stream_response,
    wants_stream,
)
from api.views import atom_public, citation_public, entity_refs, visible_recognition
from kg.access import Viewer
from kg.errors import AudioError, GraphUnavailableError, NotFoundError
from retrieval.answers.answer import Answer
from retrieval.answers.followup import Reading, caller_reader
from retrieval.answers.highlight import highlight
from retrieval.retrievers.hybrid import Filters
from retrieval.visibility import EntityScope
from speech.audio import decode

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/v1", tags=["search"])
ERRORS = responses(401, 403, 422, 503)
CONVERSATION_ID = r"^conv-[0-9a-f]{32}$"
MAX_TURNS_SHOWN = 100
CONVERSATION_CLEANUP_S = 600.0
STREAMED = {
    "description": "the answer; with `Accept: text/event-stream` or `stream: true`, "
    "server-sent events: understanding, section (one per section), citations, token "
    "(polished prose, when configured), done; or understanding, declined, done; an error "
    "after the start is an `error` event carrying an ErrorBody",
    "content": {EVENT_STREAM: {"schema": SSE_EVENT_SCHEMA}},
}


def scoped(filters: Filters, viewer: Viewer) -> Filters:
    """The request's filters with the caller's access rules added (never removed)."""
    return replace(filters, allow=viewer.can_see)


@router.post("/search", response_model=SearchResponse, responses=ERRORS)
def search(
    request: SearchRequest, viewer: SearchViewer, services: ServicesDep, refresher: RefresherDep
) -> SearchResponse:
    """Atoms ranked for a question (dense + lexical + graph), with highlights, citations and
    graph context. Only atoms the key may see are returned or counted."""
    return search_response(services, request, viewer, refresher.poke)


def search_response(
    services: Services, request: SearchRequest, viewer: Viewer, on_stale: Callable[[], None]
) -> SearchResponse:
    """A search as the API and the MCP tools answer it, within what ``viewer`` may see."""
    current = services.current
    response = current.search.search(
        request.query, request.top_k, scoped(request.filters(), viewer), request.offset
    )
    if response.stale:
        on_stale()
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


@router.post(
    "/ask",
    response_model=AskResponse,
    responses={**ERRORS, **responses(404), 200: STREAMED},
)
def ask(
    http: Request,
    request: AskRequest,
    viewer: AskViewer,
    services: ServicesDep,
    refresher: RefresherDep,
    background: BackgroundTasks,
) -> AskResponse | StreamingResponse:
    """One answer composed from the best atoms, every point cited, with graph paths. With a
    `conversation_id` the question is read as a follow-up of that conversation (404 when it
    is not one of this key's); streamed as server-sent events on request."""
    current = services.current
    filters = scoped(request.filters(), viewer)
    prepared = prepare(
        services, current, viewer, request.question, filters, request.conversation_id
    )
    run = AnswerRun(
        current.search,
        prepared,
        request.top_k,
        on_stale=refresher.poke,
        finish=finisher(services, background, viewer, prepared, "text"),
    )
    if wants_stream(http, request.stream):
        return stream_response(sse(run.events()))
    answer = run.run()
    return _ask_response(answer, run.done)


@router.post(
    "/ask/voice",
    response_model=VoiceAskResponse,
    responses={**ERRORS, **responses(404, 413)},
)
def ask_voice(
    viewer: AskViewer,
    services: ServicesDep,
    refresher: RefresherDep,
    background: BackgroundTasks,
    audio: Annotated[UploadFile, File(description="wav, mp3, m4a/aac, webm/opus or ogg")],
    top_k: Annotated[int, Form(ge=1, le=50)] = 8,
    conversation_id: Annotated[
        str | None,
        Form(pattern=CONVERSATION_ID, description="continue a conversation (a follow-up)"),
    ] = None,
) -> VoiceAskResponse:
    """A spoken question: the transcript (raw and corrected against the graph's vocabulary)
    and the composed answer; with a `conversation_id`, read as a follow-up."""
    limits = assembly.audio_limits(services.settings)
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
    filters = Filters(allow=viewer.can_see)
    prepared = prepare(services, current, viewer, recognition.text, filters, conversation_id)
    run = AnswerRun(
        current.search,
        prepared,
        top_k,
        on_stale=refresher.poke,
        finish=finisher(services, background, viewer, prepared, "voice"),
    )
    answer = run.run()
    return VoiceAskResponse(
        **_ask_response(answer, run.done).model_dump(),
        transcript=TranscriptPublic(
            text=recognition.text,
            raw_text=recognition.raw.text,
            changes=[f"{c.heard}→{c.term}" for c in recognition.changes],
            audio_seconds=recognition.raw.audio_seconds,
            compute_seconds=recognition.raw.compute_seconds,
        ),
    )


@router.get(
    "/conversations/{conversation_id}",
    response_model=ConversationPublic,
    responses={**ERRORS, **responses(404)},
)
def read_conversation(
    conversation_id: Annotated[str, Path(pattern=CONVERSATION_ID)],
    viewer: AskViewer,
    services: ServicesDep,
) -> ConversationPublic:
    """A conversation of this key: its questions as asked and as read, oldest first. Another
    key's conversation is a 404, like a missing one."""
    found = services.store.conversation(conversation_id, viewer.key_id, MAX_TURNS_SHOWN)
    if found is None:
        raise NotFoundError(NO_CONVERSATION)
    return ConversationPublic(**found)


NO_CONVERSATION = "没有这个对话，或它不属于这个密钥 (no such conversation for this key)"


def prepare(
    services: Services,
    current: Searchable,
    viewer: Viewer,
    question: str,
    filters: Filters,
    conversation_id: str | None,
    earlier: list[str] | None = None,
) -> Prepared:
    """A question read in its conversation: the last turn of ``conversation_id`` (this key's
    only), or the ``earlier`` questions a chat client sent, then analysed as the caller may
    read it."""
    reader = caller_reader(
        lambda text: current.search.understand(text, filters), current.bundle.graph, filters.allow
    )
    previous = None
    if conversation_id is not None:
        last = services.store.last_turn(conversation_id, viewer.key_id)
        if last is None:
            raise NotFoundError(NO_CONVERSATION)
        if last["n"] is not None:
            previous = Reading(last["question"], last["resolved"], last["subject"] or "", True)
    elif earlier:
        previous = reader.thread(earlier)[-1]
    reading = reader.read(question, previous)
    query = current.search.understand(reading.text, filters)
    return Prepared(
        reading,
        query,
        filters,
        conversation_id or "conv-" + uuid.uuid4().hex,
        new_conversation=conversation_id is None,
    )


def finisher(
    services: Services,
    background: BackgroundTasks,
    viewer: Viewer,
    prepared: Prepared,
    channel: str,
    *,
    keep: bool = True,
) -> Callable[[Answer], DoneEvent]:
    """What ends an answer: its id, recorded for feedback (after the response), and the
    question kept as a turn of its conversation (``keep``; before ``done``, so a follow-up
    sent at once finds it)."""

    def finish(answer: Answer) -> DoneEvent:
        answer_id = _remember(services, background, answer, viewer, channel)
        turn = _keep_turn(services, viewer, prepared, answer, answer_id, channel) if keep else None
        return DoneEvent(
            answer_id=answer_id,
            conversation_id=prepared.conversation_id,
            turn=turn,
            answered=answer.answered,
            confidence=answer.confidence,
        )

    return finish


def _ask_response(answer: Answer, done: DoneEvent | None) -> AskResponse:
    assert done is not None
    return AskResponse(
        answer_id=done.answer_id,
        answer=answer,
        text=answer.to_text(),
        conversation_id=done.conversation_id,
        turn=done.turn,
    )


def _keep_turn(
    services: Services,
    viewer: Viewer,
    prepared: Prepared,
    answer: Answer,
    answer_id: str,
    channel: str,
) -> int | None:
    """Keep the question as a turn (one write; a new conversation with its first turn). The
    rep has the answer either way: a graph outage only loses the turn (``None``)."""
    store, reading = services.store, prepared.reading
    turn = {
        "question": reading.asked,
        "resolved": reading.text,
        "subject": reading.subject,
        "followup": reading.followup,
        "intent": answer.intent,
        "answer_id": answer_id,
        "answered": answer.answered,
        "channel": channel,
    }
    try:
        if prepared.new_conversation:
            return store.start_conversation(
                prepared.conversation_id, viewer.key_id, viewer.team, viewer.user, **turn
            )
        return store.add_turn(prepared.conversation_id, viewer.key_id, **turn)
    except GraphUnavailableError as exc:
        logger.warning("turn of %s not kept: %s", prepared.conversation_id, exc)
        return None


def _remember(
    services: Services, background: BackgroundTasks, answer: Answer, viewer: Viewer, channel: str
) -> str:
    """Give the answer an id and record it (after the response is sent) for feedback."""
    metrics.ANSWERS.labels(channel).inc()
    if not answer.answered or not answer.citations:
        metrics.EMPTY_ANSWERS.inc()
    answer_id = "ans-" + uuid.uuid4().hex[:16]
    background.add_task(record_answer, services, answer_id, answer, viewer, channel)
    if services.due("conversation clean-up", CONVERSATION_CLEANUP_S):
        background.add_task(_clean_conversations, services)
    return answer_id


def _clean_conversations(services: Services) -> None:
    """Delete conversations untouched for SKG_CONVERSATION_DAYS (at most every
    ``CONVERSATION_CLEANUP_S`` per worker, after a response)."""
    try:
        services.store.delete_old_conversations(services.settings.conversation_days)
    except GraphUnavailableError as exc:
        logger.warning("old conversations not cleared: %s", exc)


def record_answer(
    services: Services, answer_id: str, answer: Answer, viewer: Viewer, channel: str
) -> None:
    """Keep the answer for feedback and knowledge gaps; a graph outage only loses history."""
    try:
        services.store.record_answer(
            answer_id,
            answer.rewritten or answer.question,  # a follow-up as read: it stands alone
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
