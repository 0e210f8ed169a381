"""Answers as they are composed, for ``/v1/ask`` and chat clients.

``AnswerRun`` answers one question in stages and yields each as an event: ``understanding``
(how the question was read, before retrieval), each ``section`` of the composed answer,
``citations``, the polished prose as ``token`` events when a language model is configured,
and ``done`` (the answer's id). An answer that declines sends ``declined`` with the leads
instead of sections. A plain JSON answer runs the same stages to the end.

``sse`` frames events as server-sent events; an error after the first byte (the status is
sent by then) becomes an ``error`` event in the one error shape (``ErrorBody``).

The polished prose is asked for whole and then sent in pieces: the polisher
(retrieval/answers/polish.py) keeps its text only when every citation in it is one the answer has,
which it can only know at the end; a token stream straight from the model would show text
that may then be refused.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from api.context import request_id
from api.errors import INTERNAL, SERVER_SIDE_DETAIL, ErrorBody, problem_for
from api.schemas import DeclinedEvent, DoneEvent, TokenEvent, UnderstandingEvent
from kg.errors import SkgError
from retrieval.answers.answer import DECLINED, Answer, Citation
from retrieval.answers.followup import Reading
from retrieval.query import Query
from retrieval.retrievers.hybrid import Filters
from retrieval.service import SearchService

logger = logging.getLogger(__name__)

EVENT_STREAM = "text/event-stream"
# One server-sent event, as OpenAPI before 3.2 reads a text/event-stream `schema` (each event,
# not the whole stream): its `data` is the JSON the route's description names.
SSE_EVENT_SCHEMA = {
    "type": "object",
    "properties": {
        "event": {"type": "string"},
        "data": {"type": "string"},
        "id": {"type": "string"},
        "retry": {"type": "integer"},
    },
    "required": ["data"],
}
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
TOKEN_CHARS = 12  # the polished prose is sent in pieces of about this many characters
_PIECES = re.compile(r"\[\d+\]|[^\[]{1," + str(TOKEN_CHARS) + r"}|\[")

Event = tuple[str, BaseModel]


class CitationsEvent(BaseModel):
    citations: list[Citation]


@dataclass(frozen=True)
class Prepared:
    """A question ready to answer: as read in its conversation, and analysed."""

    reading: Reading
    query: Query
    filters: Filters
    conversation_id: str
    new_conversation: bool


class AnswerRun:
    """One question answered in stages (``events``); ``answer`` and ``done`` once run.

    Args:
        search: the search service of the index generation the question was read with.
        finish: records the answer and the turn, and says how (the ``done`` event).
    """

    def __init__(
        self,
        search: SearchService,
        prepared: Prepared,
        top_k: int,
        *,
        on_stale: Callable[[], None],
        finish: Callable[[Answer], DoneEvent],
    ) -> None:
        self._search = search
        self._prepared = prepared
        self._top_k = top_k
        self._on_stale = on_stale
        self._finish = finish
        self.answer: Answer | None = None
        self.done: DoneEvent | None = None

    def events(self) -> Iterator[Event]:
        prepared = self._prepared
        yield "understanding", understanding(prepared)
        response = self._search.retrieve(prepared.query, self._top_k, prepared.filters)
        if response.stale:
            self._on_stale()
        answer = as_asked(self._search.compose(response), prepared.reading)
        self.answer = answer
        if not answer.answered:
            yield (
                "declined",
                DeclinedEvent(text=DECLINED, confidence=answer.confidence, leads=answer.leads),
            )
        else:
            for section in answer.sections:
                yield "section", section
            yield "citations", CitationsEvent(citations=answer.citations)
            answer.polished = self._search.polish(answer)
            for piece in pieces(answer.polished or ""):
                yield "token", TokenEvent(text=piece)
        self.done = self._finish(answer)
        yield "done", self.done

    def run(self) -> Answer:
        """All stages at once (a plain JSON answer)."""
        for _ in self.events():
            pass
        assert self.answer is not None
        return self.answer


def understanding(prepared: Prepared) -> UnderstandingEvent:
    query, reading = prepared.query, prepared.reading
    entities = list(dict.fromkeys(e.surface for e in query.entities))
    read = Answer(
        question=reading.asked,
        intent=query.intent.value,
        entities=entities,
        sections=[],
        citations=[],
        rewritten=reading.text if reading.followup else None,
    )
    return UnderstandingEvent(
        question=reading.asked,
        understood_as=read.rewritten,
        understood=read.understood(),
        intent=read.intent,
        entities=entities,
        note=None,
        conversation_id=prepared.conversation_id,
    )


def as_asked(answer: Answer, reading: Reading) -> Answer:
    """The answer to a follow-up says what was asked and how it was read."""
    if reading.followup:
        answer.rewritten = answer.question
        answer.question = reading.asked
    return answer


def pieces(text: str) -> list[str]:
    """Text in short pieces, a citation marker ([12]) never cut."""
    return _PIECES.findall(text)


def wants_stream(request: Request, asked_for: bool) -> bool:
    return asked_for or EVENT_STREAM in request.headers.get("accept", "")


def error_body(exc: BaseException) -> ErrorBody:
    """An error after the stream started, in the one error shape; a server-side one keeps
    its cause to the log (as ``api/errors.py`` does)."""
    problem = problem_for(exc) if isinstance(exc, SkgError) else INTERNAL
    if problem.status >= 500:
        logger.error(
            "%s %s mid-stream (request %s): %s: %s",
            problem.status,
            problem.code,
            request_id(),
            type(exc).__name__,
            exc,
            exc_info=problem is INTERNAL,
        )
        detail = SERVER_SIDE_DETAIL
    else:
        detail = str(exc)
    return ErrorBody(
        code=problem.code,
        message=problem.message,
        message_en=problem.message_en,
        detail=detail,
        request_id=request_id(),
    )


def frame(name: str | None, data: BaseModel | dict[str, Any] | str) -> str:
    """One server-sent event (no ``event:`` line when ``name`` is None: a plain message)."""
    if isinstance(data, BaseModel):
        payload = data.model_dump_json()
    elif isinstance(data, str):
        payload = data
    else:
        payload = json.dumps(data, ensure_ascii=False)
    head = f"event: {name}\n" if name else ""
    return f"{head}data: {payload}\n\n"


def sse(events: Iterable[Event]) -> Iterator[str]:
    """Events as server-sent events; an error ends the stream with an ``error`` event."""
    try:
        for name, data in events:
            yield frame(name, data)
    except Exception as exc:  # noqa: BLE001 -- the status line is sent: the error can only be an event
        yield frame("error", error_body(exc))


def stream_response(frames: Iterable[str]) -> StreamingResponse:
    return StreamingResponse(iter(frames), media_type=EVENT_STREAM, headers=HEADERS)
