"""For operators: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.deps import ServicesDep
from api.metrics import REGISTRY
from api.schemas import Liveness, Readiness
from kg.errors import SkgError

logger = logging.getLogger(__name__)

router = APIRouter(tags=["operations"])


@router.get("/livez", response_model=Liveness)
def live() -> Liveness:
    """The process is up (restart it if this fails)."""
    return Liveness()


@router.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness}})
def ready(services: ServicesDep) -> Response:
    """Ready to answer: Neo4j reachable, an index loaded, the models loaded. 503 otherwise."""
    checks: dict[str, str] = {}
    try:
        services.store.ping()
        checks["neo4j"] = "ok"
    except SkgError as exc:
        logger.warning("not ready: %s", exc)
        checks["neo4j"] = "unavailable"
    checks["index"] = "ok" if services.ready else "missing: ingest documents or `skg index sync`"
    checks["embedding_model"] = "ok" if services.embedder is not None else "missing"
    checks["speech_model"] = "ok" if services.transcriber is not None else "missing"
    ok = all(v == "ok" for v in checks.values())
    body = Readiness(status="ready" if ok else "not_ready", checks=checks)
    headers = {} if ok else {"Retry-After": "5"}
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503, headers=headers)


@router.get("/metrics", response_class=Response)
def prometheus() -> Response:
    """Request counts and latencies, answers, feedback and ingest jobs (Prometheus text)."""
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
