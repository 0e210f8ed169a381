"""Reports for sales leaders, enablement and knowledge managers: whose knowledge is used
(贡献度), and what reps asked that the knowledge could not answer (knowledge gaps)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import AdminViewer, ServicesDep
from api.errors import responses
from api.schemas import (
    MAX_OFFSET,
    ContributionPage,
    ContributionPublic,
    GapPage,
    GapPublic,
    IsoDay,
    next_offset,
)
from kg.contributions import day_start

router = APIRouter(prefix="/v1/reports", tags=["reports"])


@router.get(
    "/contributions", response_model=ContributionPage, responses=responses(401, 403, 422, 503)
)
def contributions(
    viewer: AdminViewer,  # admin only: the report counts atoms of every team and person
    services: ServicesDep,
    since: Annotated[
        IsoDay | None,
        Query(description="count only answers and feedback from this day on (YYYY-MM-DD)"),
    ] = None,
    team: Annotated[
        str | None, Query(max_length=100, description="only the atoms of this team")
    ] = None,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> ContributionPage:
    """Per person (owner or contributor of atoms): atoms, approved atoms, citations in
    answers, distinct answers, feedback by kind and the contribution score (贡献度), highest
    first. Atoms with no owner or contributor are counted under （未署名）."""
    report = services.store.contributions(since=day_start(since) if since else None, team=team)
    page = report[offset : offset + limit]
    return ContributionPage(
        items=[ContributionPublic(**asdict(c), score=c.score) for c in page],
        total=len(report),
        next_offset=next_offset(offset, len(page), len(report)),
    )


gaps_router = APIRouter(prefix="/v1", tags=["reports"])


@gaps_router.get("/gaps", response_model=GapPage, responses=responses(401, 403, 422, 503))
def gaps(
    viewer: AdminViewer,  # admin only: the questions of every team
    services: ServicesDep,
    days: Annotated[int, Query(ge=1, le=3650, description="the last N days")] = 30,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> GapPage:
    """Knowledge gaps: questions of the last ``days`` days that found no reliable answer
    (the answer declined), most asked first, with when they were last asked, their lowest
    confidence and who asked (teams, channels). Knowledge managers turn them into material."""
    since = datetime.now(UTC) - timedelta(days=days)
    rows, total = services.store.gaps(since, offset, limit)
    return GapPage(
        items=[GapPublic(**r) for r in rows],
        total=total,
        next_offset=next_offset(offset, len(rows), total),
    )
