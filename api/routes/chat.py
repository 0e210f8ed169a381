"""OpenAI-compatible chat completions, so CRM assistants and chat front ends plug in unchanged.

``POST /v1/chat/completions`` with model ``saleskg``: the last user message is the question,
the user messages before it the conversation (read with the same follow-up rules as
``/v1/ask``; nothing is kept on the server, the client sends the conversation each time). The
reply is the composed answer as one message, cited [1] [2] with a numbered reference list at
the end, plus the structured answer in a ``saleskg`` field. Streaming sends OpenAI's
``chat.completion.chunk`` objects and ``[DONE]``. Keys, scopes (``ask``) and visibility are
those of ``/v1/ask``; errors keep SalesKG's error shape (mid-stream: ``{"error": ErrorBody}``).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks
from fastapi import Path as PathParam
from fastapi.responses import StreamingResponse

from api.deps import AskViewer, RefresherDep, ServicesDep
from api.errors import responses
from api.routes.search import finisher, prepare
from api.schemas import (
    ChatChoice,
    ChatCompletion,
    ChatCompletionMessage,
    ChatCompletionRequest,
    DoneEvent,
    ModelList,
    ModelPublic,
    SalesKgExtension,
)
from api.streaming import (
    EVENT_STREAM,
    SSE_EVENT_SCHEMA,
    AnswerRun,
    error_body,
    frame,
    stream_response,
)
from kg.errors import BadQueryError, NotFoundError
from retrieval.answers.answer import CHAT_POLISHED_HEADING, Answer, AnswerSection, chat_section
from retrieval.retrievers.hybrid import Filters

router = APIRouter(prefix="/v1", tags=["chat"])

MODEL = "saleskg"
CREATED = 1_767_225_600  # 2026-01-01: when the model id was first published
TOP_K = 8
STREAMED = {
    "description": "the answer; with `stream: true`, server-sent `chat.completion.chunk` "
    "objects, the last with `finish_reason` and the `saleskg` field, then `[DONE]`",
    "content": {EVENT_STREAM: {"schema": SSE_EVENT_SCHEMA}},
}


@router.get("/models", response_model=ModelList, responses=responses(401, 403))
def list_models(viewer: AskViewer) -> ModelList:
    """The models chat clients may name: one, ``saleskg``."""
    return ModelList(data=[ModelPublic(id=MODEL, created=CREATED)])


@router.get("/models/{model_id}", response_model=ModelPublic, responses=responses(401, 403, 404))
def read_model(
    model_id: Annotated[str, PathParam(max_length=100)], viewer: AskViewer
) -> ModelPublic:
    if model_id != MODEL:
        raise NotFoundError(_no_model(model_id))
    return ModelPublic(id=MODEL, created=CREATED)


@router.post(
    "/chat/completions",
    response_model=ChatCompletion,
    responses={**responses(401, 403, 404, 422, 503), 200: STREAMED},
)
def chat_completions(
    request: ChatCompletionRequest,
    viewer: AskViewer,
    services: ServicesDep,
    refresher: RefresherDep,
    background: BackgroundTasks,
) -> ChatCompletion | StreamingResponse:
    """The composed, cited answer to the last user message, read with the earlier ones as a
    conversation (follow-up questions)."""
    if request.model != MODEL:
        raise NotFoundError(_no_model(request.model))
    if request.messages[-1].role != "user":
        raise BadQueryError("最后一条消息须是用户的问题 (the last message must be the user's)")
    asked = [m.text().strip() for m in request.messages if m.role == "user"]
    current = services.current
    filters = Filters(allow=viewer.can_see)
    prepared = prepare(
        services, current, viewer, asked[-1], filters, None, [q for q in asked[:-1] if q]
    )
    run = AnswerRun(
        current.search,
        prepared,
        TOP_K,
        on_stale=refresher.poke,
        finish=finisher(services, background, viewer, prepared, "chat", keep=False),
    )
    created = int(time.time())
    if request.stream:
        return stream_response(_chunks(run, created))
    answer = run.run()
    assert run.done is not None
    return ChatCompletion(
        id=f"chatcmpl-{run.done.answer_id}",
        created=created,
        model=MODEL,
        choices=[ChatChoice(message=ChatCompletionMessage(content=answer.to_chat()))],
        saleskg=_extension(answer, run.done),
    )


def _no_model(name: str) -> str:
    return f"没有这个模型：{name[:100]}，请使用 saleskg (no such model; use 'saleskg')"


def _extension(answer: Answer, done: DoneEvent) -> SalesKgExtension:
    return SalesKgExtension(
        answer_id=done.answer_id,
        answered=answer.answered,
        confidence=answer.confidence,
        understood_as=answer.rewritten,
        intent=answer.intent,
        citations=answer.citations,
        leads=answer.leads,
    )


def _chunks(run: AnswerRun, created: int) -> Iterator[str]:
    """The answer as OpenAI's chunks: the same text as the whole message, part by part."""
    chunk_id = f"chatcmpl-{uuid.uuid4().hex[:16]}"

    def chunk(delta: dict[str, str], finish: str | None = None, **extra: Any) -> str:
        return frame(
            None,
            {
                "id": chunk_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": MODEL,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                **extra,
            },
        )

    yield chunk({"role": "assistant", "content": ""})
    try:
        polished = False
        for name, data in run.events():
            answer = run.answer
            if name in ("section", "declined") and answer is not None:
                if not answer.answered or not answer.sections:
                    yield chunk({"content": answer.chat_declined()})
                    continue
                if isinstance(data, AnswerSection):
                    head = answer.chat_head() if data is answer.sections[0] else ""
                    yield chunk({"content": head + chat_section(data)})
            elif name == "token":
                text = getattr(data, "text", "")
                yield chunk({"content": ("" if polished else CHAT_POLISHED_HEADING) + text})
                polished = True
            elif name == "done" and answer is not None and isinstance(data, DoneEvent):
                if answer.answered and answer.sections:
                    yield chunk({"content": ("\n\n" if polished else "") + answer.references()})
                extension = _extension(answer, data).model_dump(mode="json")
                yield chunk({}, "stop", saleskg=extension)
        yield frame(None, "[DONE]")
    except Exception as exc:  # noqa: BLE001 -- the status line is sent: the error can only be a message
        yield frame(None, {"error": error_body(exc).model_dump()})
