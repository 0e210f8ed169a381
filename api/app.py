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

from fastapi import Depends, FastAPI, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from api import docs_pages, errors, openapi, pushes
from api.deps import declared_media_type
from api.filemodes import restrict_new_files, secure_tree
from api.jobs import IngestJobs
from api.middleware import ServiceMiddleware
from api.ratelimit import RateLimits
from api.refresh import IndexRefresher
from api.routes import briefs as brief_routes  # briefs and pushes (issue 17)
from api.routes import chat as chat_routes  # chat completions (issue 16)
from api.routes import events as event_routes  # (issue 17)
from api.routes import feedback, ingest, knowledge, ops, reports, review, search
from api.settings import Settings
from api.state import Services
from api.supervision import exit_with_parent

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
`request_id` (also in the `X-Request-ID` header and the server log). JSON bodies need
`Content-Type: application/json` (415 otherwise) and unknown fields are refused (422).

**Rate limits:** per API key (per address for keyless callers); over the limit, 429 with
`Retry-After` seconds.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        exit_with_parent()
        restrict_new_files()
        for state in (settings.index_path, settings.uploads_path):
            secure_tree(state)
        services = Services.start(settings)
        jobs = IngestJobs(
            services.store,
            settings.uploads_path,
            services.sync_after_writes,
            large_bytes=settings.ingest_large_job_bytes,
        )
        resumed, lost = jobs.recover()
        if resumed or lost:
            logger.warning(
                "ingest jobs of a stopped server: %d resumed, %d failed (uploads gone)",
                resumed,
                lost,
            )
        refresher = IndexRefresher(
            services,
            settings.index_refresh_seconds,
            audit_s=settings.index_audit_seconds,
            save_s=settings.index_save_seconds,
        )
        if settings.index_refresh_seconds > 0:
            refresher.start()
        app.state.services = services
        app.state.jobs = jobs
        app.state.refresher = refresher
        # Briefs and pushes (issue 17): the brief composer over the served index; the default
        # push rules on the first start; the webhook delivery worker, when one is configured.
        app.state.briefer = brief_routes.Briefer(services)
        app.state.push_worker = pushes.start(settings, services.store)
        yield
        if app.state.push_worker is not None:
            app.state.push_worker.stop()
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
        # Served from local assets below: FastAPI's own pages load them from a CDN.
        docs_url=None,
        redoc_url=None,
        # Every route with a body refuses one of another content type (415).
        dependencies=[Depends(declared_media_type)],
    )
    app.state.limits = RateLimits.of(
        settings.rate_limit_per_minute,
        settings.rate_limit_burst,
        settings.upload_rate_limit_per_minute,
        settings.upload_rate_limit_burst,
    )
    errors.install(app)
    openapi.install(app)
    docs_pages.install(app)
    for router in (
        search.router,
        knowledge.router,
        feedback.router,
        ingest.router,
        ops.router,
        reports.router,
        reports.gaps_router,
        review.router,  # the knowledge managers' page, /app/admin (issue 16)
        review.page_router,
        chat_routes.router,  # OpenAI-compatible chat completions and models (issue 16)
        brief_routes.router,  # briefs and pushes (issue 17)
        event_routes.router,
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
        keepalive_requests=settings.keepalive_requests,
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
    if path.startswith("/v1/chat/"):  # chat clients resend the whole conversation (issue 16)
        return settings.max_json_bytes * 16
    return settings.max_json_bytes
