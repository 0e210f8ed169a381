"""FastAPI dependencies: the services built once in the lifespan, the caller's identity (with
its rate limit), and the content type a request body must have.

What never blocks is ``async def``: FastAPI runs a plain ``def`` dependency in its thread pool,
and those hand-offs cost more CPU than the work under load (docs/benchmarks.md, Encoders).
``_viewer`` may read Neo4j, so it stays a plain function."""

from __future__ import annotations

import email.message
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request, params
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.jobs import IngestJobs
from api.ratelimit import RateLimits
from api.refresh import IndexRefresher
from api.state import Services
from kg.access import ANONYMOUS, Scope, Viewer
from kg.errors import AuthenticationError, PermissionDeniedError, UnsupportedMediaTypeError

_bearer = HTTPBearer(auto_error=False, description="An API key: `skg keys create`.")


async def _services(request: Request) -> Services:
    return request.app.state.services


async def _jobs(request: Request) -> IngestJobs:
    return request.app.state.jobs


async def _refresher(request: Request) -> IndexRefresher:
    return request.app.state.refresher


ServicesDep = Annotated[Services, Depends(_services)]
JobsDep = Annotated[IngestJobs, Depends(_jobs)]
RefresherDep = Annotated[IndexRefresher, Depends(_refresher)]


async def _limits(request: Request) -> RateLimits:
    return request.app.state.limits


def body_media_type(route: object) -> str | None:
    """The media type of a route's request body (``application/json``,
    ``multipart/form-data``...), or None for a route that takes no body."""
    body = getattr(route, "body_field", None)
    return None if body is None else body.field_info.media_type


def _is_upload(route: object) -> bool:
    body = getattr(route, "body_field", None)
    return body is not None and isinstance(body.field_info, params.File)


async def declared_media_type(request: Request) -> None:
    """Refuse a body whose Content-Type is not the one the operation declares: JSON
    operations take ``application/json`` (or ``application/*+json``), uploads
    ``multipart/form-data``. Applied to every route (``create_app``): without it a text/plain
    or form body would be read as something it is not."""
    wanted = body_media_type(request.scope.get("route"))
    if wanted is None:
        return
    given = request.headers.get("content-type", "")[:100]
    message = email.message.Message()
    message["content-type"] = given
    media = message.get_content_type() if given else ""
    ok = media == wanted or (
        wanted == "application/json"
        and media.startswith("application/")
        and media.endswith("+json")
    )
    if not ok:
        raise UnsupportedMediaTypeError(
            f"请求体须为 {wanted}，收到的是 {given or '（未指定）'} "
            f"(this operation takes {wanted}; the request sent {given or 'no Content-Type'})"
        )


def _viewer(
    request: Request,
    services: ServicesDep,
    limits: Annotated[RateLimits, Depends(_limits)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Viewer:
    """The caller, once it has passed its rate limit (per key; per address when keyless)."""
    if credentials is None:
        if services.settings.auth_required:
            raise AuthenticationError(
                "缺少 API 密钥 (no API key: send Authorization: Bearer <key>)"
            )
        viewer = ANONYMOUS
        caller = "address:" + (request.client.host if request.client else "unknown")
    else:
        viewer = services.keys.verify(credentials.credentials)
        caller = "key:" + viewer.key_id
    limits.take(caller, upload=_is_upload(request.scope.get("route")))
    return viewer


def require(scope: Scope) -> Callable[..., Awaitable[Viewer]]:
    """A dependency giving the caller, refusing keys without ``scope``."""

    async def dependency(viewer: Annotated[Viewer, Depends(_viewer)]) -> Viewer:
        if not viewer.allows(scope):
            raise PermissionDeniedError(
                f"该密钥没有 {scope.value} 权限 (the key lacks the {scope.value!r} scope)"
            )
        return viewer

    return dependency


def require_any(*scopes: Scope) -> Callable[..., Awaitable[Viewer]]:
    async def dependency(viewer: Annotated[Viewer, Depends(_viewer)]) -> Viewer:
        if not any(viewer.allows(s) for s in scopes):
            names = " 或 ".join(s.value for s in scopes)
            raise PermissionDeniedError(f"该密钥没有 {names} 权限 (the key lacks these scopes)")
        return viewer

    return dependency


SearchViewer = Annotated[Viewer, Depends(require(Scope.SEARCH))]
AskViewer = Annotated[Viewer, Depends(require(Scope.ASK))]
IngestViewer = Annotated[Viewer, Depends(require(Scope.INGEST))]
AdminViewer = Annotated[Viewer, Depends(require(Scope.ADMIN))]
ReaderViewer = Annotated[Viewer, Depends(require_any(Scope.SEARCH, Scope.ASK))]
