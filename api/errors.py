"""The one place where SalesKG errors become HTTP responses, all in one JSON shape:

    {"code": "bad_query", "message": "…", "message_en": "…", "detail": "…", "request_id": "…"}

``message``/``message_en`` say what kind of problem it is and what to do (stable per code);
``detail`` says exactly what was wrong with this request.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.context import request_id
from kg.errors import (
    AudioError,
    AuthenticationError,
    BadQueryError,
    ConfigError,
    GraphAuthError,
    GraphUnavailableError,
    IndexNotReadyError,
    IngestError,
    ModelError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    SkgError,
)

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5


class ErrorBody(BaseModel):
    """Every error the API returns."""

    code: str = Field(examples=["bad_query"])
    message: str = Field(description="what to do, in Chinese", examples=["问题无效，请修改后重试"])
    message_en: str = Field(examples=["The question was not accepted; change it and retry."])
    detail: str = Field(description="what exactly was wrong", examples=["问题不能为空"])
    request_id: str = Field(description="quote it when asking for help; also in the logs")


@dataclass(frozen=True)
class Problem:
    status: int
    code: str
    message: str
    message_en: str


UNAUTHORIZED = Problem(
    401,
    "unauthorized",
    "缺少或无效的 API 密钥，请在请求头 Authorization: Bearer <密钥> 中提供有效密钥",
    "Missing or invalid API key; send Authorization: Bearer <key>.",
)
INVALID_REQUEST = Problem(
    422,
    "invalid_request",
    "请求格式错误，请按接口文档修改后重试",
    "The request is malformed; see the API documentation.",
)
TIMEOUT = Problem(504, "timeout", "处理超时，请稍后重试", "The request took too long; retry later.")
INTERNAL = Problem(
    500,
    "internal",
    "服务内部错误，请联系管理员并提供请求编号",
    "Internal error; contact the operator with the request id.",
)

# Most specific first: the first matching type decides.
PROBLEMS: tuple[tuple[type[SkgError], Problem], ...] = (
    (AuthenticationError, UNAUTHORIZED),
    (
        PermissionDeniedError,
        Problem(
            403,
            "forbidden",
            "该 API 密钥没有执行此操作的权限，请联系管理员开通",
            "The API key lacks the scope this operation needs.",
        ),
    ),
    (
        NotFoundError,
        Problem(404, "not_found", "没有找到该内容", "No such item, or not one you may see."),
    ),
    (
        PayloadTooLargeError,
        Problem(413, "payload_too_large", "请求内容过大", "The request body is too large."),
    ),
    (
        BadQueryError,
        Problem(422, "bad_query", "问题无效，请修改后重试", "The question was not accepted."),
    ),
    (
        AudioError,
        Problem(
            422,
            "bad_audio",
            "录音无法识别，请重新录制或上传",
            "The audio could not be used; record or upload it again.",
        ),
    ),
    (
        IngestError,
        Problem(
            422, "bad_document", "文件无法导入，请检查格式", "A file cannot be ingested; check it."
        ),
    ),
    (
        GraphUnavailableError,
        Problem(
            503,
            "graph_unavailable",
            "服务暂时不可用，请稍后重试",
            "The knowledge graph is unreachable; retry shortly.",
        ),
    ),
    (
        GraphAuthError,
        Problem(
            503,
            "graph_auth",
            "服务配置错误，请联系管理员",
            "The server cannot log in to Neo4j; the operator must fix it.",
        ),
    ),
    (
        IndexNotReadyError,
        Problem(
            503,
            "index_not_ready",
            "知识索引尚未就绪，请稍后重试",
            "The search index is not ready; retry shortly.",
        ),
    ),
    (
        ModelError,
        Problem(503, "model_unavailable", "模型不可用，请联系管理员", "A model is not available."),
    ),
    (
        ConfigError,
        Problem(500, "config", "服务配置错误，请联系管理员", "The server is misconfigured."),
    ),
)

HTTP_PROBLEMS = {
    404: Problem(404, "not_found", "没有这个接口", "No such endpoint."),
    405: Problem(405, "method_not_allowed", "不支持该请求方法", "Method not allowed."),
}


DESCRIPTIONS = {
    401: "no API key, or an unknown or revoked one",
    403: "the key lacks the scope",
    404: "no such item, or not one this key may see",
    413: "body over its limit",
    422: "invalid request, question, audio or file",
    503: "Neo4j or the index is unavailable; retry after Retry-After seconds",
}


def responses(*statuses: int) -> dict[int | str, dict[str, object]]:
    """OpenAPI documentation of a route's error responses, all in the ErrorBody shape."""
    return {s: {"model": ErrorBody, "description": DESCRIPTIONS[s]} for s in statuses}


def problem_for(exc: SkgError) -> Problem:
    for error_type, problem in PROBLEMS:
        if isinstance(exc, error_type):
            return problem
    return INTERNAL


def error_response(problem: Problem, detail: str) -> JSONResponse:
    body = ErrorBody(
        code=problem.code,
        message=problem.message,
        message_en=problem.message_en,
        detail=detail,
        request_id=request_id(),
    )
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if problem.status == 503 else {}
    if problem.status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse(body.model_dump(), status_code=problem.status, headers=headers)


def install(app: FastAPI) -> None:
    """Map every error to the one JSON shape; a traceback never reaches a client."""

    @app.exception_handler(SkgError)
    async def skg_error(_: Request, exc: SkgError) -> JSONResponse:
        problem = problem_for(exc)
        log = logger.error if problem.status >= 500 else logger.info
        log("%s %s: %s", problem.status, problem.code, exc)
        return error_response(problem, str(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        return error_response(INVALID_REQUEST, details)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        problem = HTTP_PROBLEMS.get(
            exc.status_code, Problem(exc.status_code, "http_error", "请求无法处理", "HTTP error")
        )
        return error_response(problem, str(exc.detail))

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        logger.exception("unexpected error: %s", exc)
        return error_response(INTERNAL, type(exc).__name__)
