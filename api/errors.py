"""The one place where SalesKG errors become HTTP responses, all in one JSON shape:

    {"code": "bad_query", "message": "…", "message_en": "…", "detail": "…", "request_id": "…"}

``message``/``message_en`` say what kind of problem it is and what to do (stable per code);
``detail`` says exactly what was wrong with this request. A server-side failure (5xx) says
nothing about the server in ``detail``: addresses, driver and exception texts go to the log,
under the request id the body gives.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

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
    RateLimitedError,
    SkgError,
    UnsupportedMediaTypeError,
)

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5
# A body with thousands of mistakes gets the first few named, and a count of the rest.
MAX_LISTED_ERRORS = 10
SERVER_SIDE_DETAIL = (
    "原因已记入服务器日志，请向管理员提供请求编号 "
    "(the cause is in the server log under this request id)"
)


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
        UnsupportedMediaTypeError,
        Problem(
            415,
            "unsupported_media_type",
            "请求的内容类型不受支持，请按接口文档设置 Content-Type（通常为 application/json）",
            "Unsupported Content-Type: send the one the API documentation gives "
            "(application/json; multipart/form-data for uploads).",
        ),
    ),
    (
        RateLimitedError,
        Problem(
            429,
            "rate_limited",
            "请求过于频繁，请按 Retry-After 的秒数稍后重试",
            "Too many requests; retry after the seconds in Retry-After.",
        ),
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
    # Starlette and FastAPI answer 400 when they cannot parse a body (bad JSON, bad UTF-8,
    # a broken multipart form): for this API that is an invalid request like any other.
    400: INVALID_REQUEST,
    404: Problem(404, "not_found", "没有这个接口", "No such endpoint."),
    405: Problem(405, "method_not_allowed", "不支持该请求方法", "Method not allowed."),
}


DESCRIPTIONS = {
    401: "no API key, or an unknown or revoked one",
    403: "the key lacks the scope",
    404: "no such item, or not one this key may see",
    413: "body over its limit",
    415: "the body is not of the content type this operation takes",
    422: "invalid request (malformed JSON, unknown fields, wrong types, out-of-range values), "
    "question, audio or file",
    429: "over the caller's rate limit; retry after Retry-After seconds",
    500: "internal error; the cause is in the server log under the request id",
    503: "Neo4j or the index is unavailable; retry after Retry-After seconds",
    504: "the request took longer than the server's timeout",
}


def responses(*statuses: int) -> dict[int | str, dict[str, object]]:
    """OpenAPI documentation of a route's error responses, all in the ErrorBody shape."""
    return {s: {"model": ErrorBody, "description": DESCRIPTIONS[s]} for s in statuses}


def problem_for(exc: SkgError) -> Problem:
    for error_type, problem in PROBLEMS:
        if isinstance(exc, error_type):
            return problem
    return INTERNAL


def error_response(
    problem: Problem, detail: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    body = ErrorBody(
        code=problem.code,
        message=problem.message,
        message_en=problem.message_en,
        detail=detail,
        request_id=request_id(),
    )
    all_headers = dict(headers or {})
    if problem.status == 503:
        all_headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    if problem.status == 401:
        all_headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse(body.model_dump(), status_code=problem.status, headers=all_headers)


def skg_error_response(exc: SkgError) -> JSONResponse:
    """The response for one of our errors; a server-side one keeps its text to the log."""
    problem = problem_for(exc)
    if problem.status >= 500:
        return server_side(problem, exc)
    logger.info("%s %s: %s", problem.status, problem.code, exc)
    headers = {}
    if isinstance(exc, RateLimitedError):
        headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
    return error_response(problem, str(exc), headers)


def server_side(problem: Problem, exc: BaseException) -> JSONResponse:
    """A 5xx whose body names no address, host, path or driver text: those go to the log."""
    logger.error(
        "%s %s (request %s): %s: %s",
        problem.status,
        problem.code,
        request_id(),
        type(exc).__name__,
        exc,
        exc_info=problem is INTERNAL,
    )
    return error_response(problem, SERVER_SIDE_DETAIL)


def validation_detail(errors: Sequence[Mapping[str, Any]]) -> str:
    """What was wrong, field by field: ``body.top_k: Input should be ...``."""
    parts = []
    for e in errors[:MAX_LISTED_ERRORS]:
        loc = [str(p) for p in e.get("loc", ())]
        where = ".".join(loc)
        if e.get("type") == "json_invalid":
            reason = (e.get("ctx") or {}).get("error", e.get("msg", ""))
            parts.append(f"请求体不是有效的 JSON (invalid JSON at character {loc[-1]}: {reason})")
        elif e.get("type") == "extra_forbidden":
            parts.append(f"{where}: 没有这个字段 ({loc[-1]!r} is not a field of this request)")
        else:
            parts.append(f"{where}: {e.get('msg', '')}")
    if len(errors) > MAX_LISTED_ERRORS:
        parts.append(f"另有 {len(errors) - MAX_LISTED_ERRORS} 处错误 (and more)")
    return "; ".join(parts)


def unparsable_body_detail(cause: BaseException | None, fallback: str) -> str:
    """Why the framework could not read a body (it answers only "400 error parsing the body")."""
    if isinstance(cause, UnicodeDecodeError):
        return (
            f"请求体不是有效的 UTF-8 (the body is not valid UTF-8: {cause.reason} "
            f"at byte {cause.start})"
        )
    if isinstance(cause, RecursionError):
        return "请求体的 JSON 嵌套过深 (the JSON is nested too deeply)"
    return f"请求体无法解析 (the body could not be parsed: {fallback})"


def documented_methods(request: Request) -> list[str]:
    """The methods the published schema documents for the request's path (any of its
    templates), as an ``Allow`` header lists them."""
    methods: set[str] = set()
    for template, operations in request.app.openapi().get("paths", {}).items():
        pattern = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, request.url.path):
            methods |= {m.upper() for m in operations}
    return sorted(methods)


def install(app: FastAPI) -> None:
    """Map every error to the one JSON shape; a traceback never reaches a client."""

    @app.exception_handler(SkgError)
    async def skg_error(_: Request, exc: SkgError) -> JSONResponse:
        return skg_error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(INVALID_REQUEST, validation_detail(exc.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # FastAPI turns whatever breaks while it reads a body into "400 error parsing the
        # body", our own errors included (a body over its limit is refused inside `receive`).
        cause = exc.__cause__
        if isinstance(cause, SkgError):
            return skg_error_response(cause)
        problem = HTTP_PROBLEMS.get(
            exc.status_code, Problem(exc.status_code, "http_error", "请求无法处理", "HTTP error")
        )
        if problem.status >= 500:
            return server_side(problem, exc)
        detail = str(exc.detail)
        if exc.status_code == 400:
            detail = unparsable_body_detail(cause, detail)
        headers = dict(exc.headers or {})
        if exc.status_code == 405 and (allowed := documented_methods(request)):
            # Starlette names the first route of the path only (GET of GET and PUT).
            headers["Allow"] = ", ".join(allowed)
        return error_response(problem, detail, headers)

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        return server_side(INTERNAL, exc)
