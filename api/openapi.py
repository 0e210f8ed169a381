"""The published schema tells every error the app can return, each in the ErrorBody shape.

FastAPI documents its own ``HTTPValidationError`` for 422, but ``api/errors.py`` answers every
error with ``ErrorBody``; and errors that come from the edge (a body over its limit, the wrong
content type, a rate limit, a timeout) apply to whole groups of operations rather than to one
route. This module completes each operation's responses from what the operation is: one that
takes a body can get 413, 415 and 422; one that identifies its caller, 401, 403, 429 and 503;
every one, 500 and 504.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from api.errors import DESCRIPTIONS, ErrorBody

ERROR_REF = {"$ref": "#/components/schemas/ErrorBody"}
UNUSED_SCHEMAS = ("HTTPValidationError", "ValidationError")
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
RETRY_AFTER = {
    "Retry-After": {
        "description": "seconds to wait before retrying",
        "schema": {"type": "integer", "minimum": 0},
    }
}
WWW_AUTHENTICATE = {"WWW-Authenticate": {"schema": {"type": "string", "const": "Bearer"}}}


def install(app: FastAPI) -> None:
    """Replace ``app.openapi`` with one that documents every error status (built once)."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_errors(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def error_statuses(operation: dict[str, Any]) -> set[int]:
    """The error statuses an operation can answer, from its shape."""
    statuses = {500, 504}
    if "requestBody" in operation:
        statuses |= {413, 415, 422}
    if operation.get("parameters"):
        statuses.add(422)
    if any(p.get("in") == "path" for p in operation.get("parameters", [])):
        statuses.add(404)
    if operation.get("security"):
        statuses |= {401, 403, 429, 503}
    return statuses


def document_errors(schema: dict[str, Any]) -> dict[str, Any]:
    """Every operation's error responses in the ErrorBody shape, with their headers."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault(
        "ErrorBody", ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    )
    for name in UNUSED_SCHEMAS:
        components.pop(name, None)
    for path_item in schema.get("paths", {}).values():
        for method in METHODS:
            operation = path_item.get(method)
            if operation is None:
                continue
            responses = operation.setdefault("responses", {})
            for status in error_statuses(operation):
                _document(responses, status)
            for status in (401, 503):  # documented by the routes, without their headers
                if str(status) in responses:
                    _document(responses, status)
            if "422" in responses:  # FastAPI's own HTTPValidationError: not what we send
                _document(responses, 422, replace=True)
            operation["responses"] = dict(sorted(responses.items()))
    return schema


def _document(responses: dict[str, Any], status: int, *, replace: bool = False) -> None:
    key = str(status)
    if key not in responses or replace:
        responses[key] = {
            "description": DESCRIPTIONS[status],
            "content": {"application/json": {"schema": ERROR_REF}},
        }
    if status in (429, 503):
        responses[key].setdefault("headers", RETRY_AFTER)
    elif status == 401:
        responses[key].setdefault("headers", WWW_AUTHENTICATE)
