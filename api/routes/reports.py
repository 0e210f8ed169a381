"""Reports for sales leaders and enablement: whose knowledge is used (贡献度)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import AdminViewer, ServicesDep
from api.errors import responses
from api.schemas import ContributionPage, ContributionPublic, next_offset
from kg.contributions import day_start

router = APIRouter(prefix="/v1/reports", tags=["reports"])


@router.get(
    "/contributions", response_model=ContributionPage, responses=responses(401, 403, 422, 503)
)
def contributions(
    viewer: AdminViewer,  # admin only: the report counts atoms of every team and person
    services: ServicesDep,
    since: Annotated[
        date | None,
        Query(description="count only answers and feedback from this day on (YYYY-MM-DD)"),
    ] = None,
    team: Annotated[
        str | None, Query(max_length=100, description="only the atoms of this team")
    ] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
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
