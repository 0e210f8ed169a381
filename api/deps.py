"""FastAPI dependencies: the services built once in the lifespan, and the caller's identity."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.jobs import IngestJobs
from api.refresh import IndexRefresher
from api.services import Services
from kg.access import ANONYMOUS, Scope, Viewer
from kg.errors import AuthenticationError, PermissionDeniedError

_bearer = HTTPBearer(auto_error=False, description="An API key: `skg keys create`.")


def _services(request: Request) -> Services:
    return request.app.state.services


def _jobs(request: Request) -> IngestJobs:
    return request.app.state.jobs


def _refresher(request: Request) -> IndexRefresher:
    return request.app.state.refresher


ServicesDep = Annotated[Services, Depends(_services)]
JobsDep = Annotated[IngestJobs, Depends(_jobs)]
RefresherDep = Annotated[IndexRefresher, Depends(_refresher)]


def _viewer(
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Viewer:
    if credentials is None:
        if services.settings.auth_required:
            raise AuthenticationError(
                "缺少 API 密钥 (no API key: send Authorization: Bearer <key>)"
            )
        return ANONYMOUS
    return services.keys.verify(credentials.credentials)


def require(scope: Scope) -> Callable[..., Viewer]:
    """A dependency giving the caller, refusing keys without ``scope``."""

    def dependency(viewer: Annotated[Viewer, Depends(_viewer)]) -> Viewer:
        if not viewer.allows(scope):
            raise PermissionDeniedError(
                f"该密钥没有 {scope.value} 权限 (the key lacks the {scope.value!r} scope)"
            )
        return viewer

    return dependency


def require_any(*scopes: Scope) -> Callable[..., Viewer]:
    def dependency(viewer: Annotated[Viewer, Depends(_viewer)]) -> Viewer:
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
