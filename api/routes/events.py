"""CRM events, the push rules that read them, and the pushes they made."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from api.deps import AdminViewer, AskViewer, ServicesDep, require_any
from api.errors import responses
from api.push_rules import PushRule
from api.pushes import PushWorker
from api.routes.briefs import BrieferDep
from api.schemas import (
    MAX_OFFSET,
    EventAccepted,
    EventCreate,
    PushPage,
    PushRules,
    PushRulesUpdate,
    next_offset,
)
from api.signals import PushPlanner, namespace_of, visible_pushes
from kg.access import Scope, Viewer

router = APIRouter(prefix="/v1", tags=["pushes"])
PushViewer = Annotated[Viewer, Depends(require_any(Scope.ASK, Scope.ADMIN))]


async def _worker(request: Request) -> PushWorker | None:
    return request.app.state.push_worker


WorkerDep = Annotated[PushWorker | None, Depends(_worker)]


@router.post(
    "/events",
    status_code=202,
    response_model=EventAccepted,
    responses=responses(401, 403, 422, 503),
)
def event(
    request: EventCreate,
    viewer: AskViewer,
    services: ServicesDep,
    briefer: BrieferDep,
    worker: WorkerDep,
) -> EventAccepted:
    """A CRM event on an opportunity (a note, an email summary, a stage change, a metric, a
    customer search). The push rules decide whether it warrants pushing knowledge to the rep;
    each push holds the relevant brief section as this key may see it, and is delivered to
    the webhook the operator configured, in the background."""
    rules = [PushRule.model_validate(r) for r in services.store.push_rules()]
    planner = PushPlanner(
        services.store, briefer.composer(), rules, services.settings.push_rate_per_hour
    )
    outcomes = planner.handle(request, viewer)
    if worker is not None and any(o.state == "queued" for o in outcomes):
        worker.wake()
    return EventAccepted(
        event_id="evt-" + uuid.uuid4().hex[:16],
        opportunity_id=request.opportunity_id,
        pushes=outcomes,
    )


@router.get("/push-rules", response_model=PushRules, responses=responses(401, 403, 503))
def push_rules(viewer: AdminViewer, services: ServicesDep) -> PushRules:
    """The push rules, in the order they are checked; `admin` keys only."""
    return PushRules(rules=[PushRule.model_validate(r) for r in services.store.push_rules()])


@router.put("/push-rules", response_model=PushRules, responses=responses(401, 403, 422, 503))
def replace_push_rules(
    request: PushRulesUpdate, viewer: AdminViewer, services: ServicesDep
) -> PushRules:
    """Replace the whole rule set (it takes effect on the next event); `admin` keys only.
    Rules match plain phrases, never patterns, and name no address."""
    rows = [r.model_dump(mode="json") for r in request.rules]
    services.store.replace_push_rules(rows, by=f"key:{viewer.key_id}")
    return PushRules(rules=request.rules)


@router.get("/pushes", response_model=PushPage, responses=responses(401, 403, 422, 503))
def pushes(
    viewer: PushViewer,
    services: ServicesDep,
    opportunity_id: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    state: Annotated[str | None, Query(pattern="^(pending|sending|delivered|failed)$")] = None,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> PushPage:
    """Pushes, newest first: of the key's team (or, for a key without a team, its user's or
    its own); `admin` keys see all. Each shows only the points and names the key may see."""
    namespace = None if viewer.allows(Scope.ADMIN) else namespace_of(viewer)
    rows, total = services.store.pushes(namespace, offset, limit, opportunity_id, state)
    cited = list(dict.fromkeys(a for row in rows for a in row["atom_ids"] or []))
    items = visible_pushes(rows, services.store.atoms(cited), viewer, services.current.bundle.graph)
    return PushPage(items=items, total=total, next_offset=next_offset(offset, len(items), total))
