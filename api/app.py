"""The FastAPI application: search, ask (typed and spoken), the graph's atoms and entities,
feedback, ingest jobs, operations endpoints, and the reps' page at ``/app/``.

Routes live in ``api/routes/``; errors become HTTP responses only in ``api/errors.py``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from api import errors
from api.jobs import IngestJobs
from api.middleware import ServiceMiddleware
from api.refresh import IndexRefresher
from api.routes import feedback, ingest, knowledge, ops, reports, search
from api.services import Services
from api.settings import Settings

logger = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
API_VERSION = "1.0.0"
DESCRIPTION = """
SalesKG (销售知识图谱) answers sales questions from a knowledge graph of case studies,
win/loss reviews and industry terms, every point cited.

**Authentication:** send an API key as `Authorization: Bearer skg_…`; keys are created with
`skg keys create NAME --scope search --scope ask [--team TEAM] [--user NAME]`. Scopes:
`search` (search, read atoms and entities, feedback), `ask` (answers, typed and spoken;
feedback), `ingest` (upload documents, read jobs), `admin` (every ingest job, the
contribution report).

**Visibility:** atoms are public, team (keys of that team) or private (the key's user).
A key never sees, and never counts, an atom it may not see; reading one gives 404.

**Errors** share one JSON shape: `code`, `message` (Chinese), `message_en`, `detail`,
`request_id` (also in the `X-Request-ID` header and the server log).
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = Services.start(settings)
        jobs = IngestJobs(services.store, settings.uploads_path, services.sync_and_reload)
        abandoned = jobs.abandon_unfinished()
        if abandoned:
            logger.warning("%d ingest jobs of a previous run were left unfinished", abandoned)
        refresher = IndexRefresher(services, settings.index_refresh_seconds)
        if settings.index_refresh_seconds > 0:
            refresher.start()
        app.state.services = services
        app.state.jobs = jobs
        app.state.refresher = refresher
        yield
        refresher.stop()
        jobs.shutdown()
        services.close()

    app = FastAPI(
        title="SalesKG 销售知识图谱",
        version=API_VERSION,
        summary="Search and cited answers over a sales knowledge graph.",
        description=DESCRIPTION,
        lifespan=lifespan,
        # Operation ids are the route functions' names: clients get `search`, `ask`, ...
        generate_unique_id_function=lambda route: route.name,
    )
    errors.install(app)
    for router in (
        search.router,
        knowledge.router,
        feedback.router,
        ingest.router,
        ops.router,
        reports.router,
    ):
        app.include_router(router)
    app.mount("/app", RevalidatedStaticFiles(directory=STATIC, html=True), name="app")

    @app.get("/", include_in_schema=False)
    def home(request: Request) -> RedirectResponse:
        query = request.url.query
        return RedirectResponse("/app/" + (f"?{query}" if query else ""))

    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
            expose_headers=["X-Request-ID", "Retry-After"],
        )
    app.add_middleware(
        ServiceMiddleware,
        body_limit=lambda path: _body_limit(settings, path),
        timeout_s=settings.request_timeout,
    )
    return app


class RevalidatedStaticFiles(StaticFiles):
    """The page's files, revalidated on every load so phones never keep an old app.js."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = "no-cache"
        return response


def _body_limit(settings: Settings, path: str) -> int:
    if path.startswith("/v1/ask/voice"):
        return settings.audio_max_bytes + 64 * 1024  # the multipart envelope around the audio
    if path.startswith("/v1/ingest"):
        return settings.ingest_max_bytes
    return settings.max_json_bytes
