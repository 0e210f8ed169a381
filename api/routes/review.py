"""What knowledge managers should look at: flagged, stale and invalid atoms, each with a link
that opens it in Neo4j Browser, where they curate (docs/curation.md). The admin page
(/app/admin) shows these lists; the same lists are curation/02 and curation/21 in Browser."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse

from api.deps import AdminViewer, ServicesDep
from api.errors import responses
from api.schemas import MAX_OFFSET, ReviewItem, ReviewKind, ReviewPage, next_offset
from api.settings import Settings
from kg.models import ATOM_TYPE_LABELS_ZH, AtomType

router = APIRouter(prefix="/v1", tags=["review"])
page_router = APIRouter(include_in_schema=False)

ADMIN_PAGE = Path(__file__).resolve().parents[1] / "static" / "admin.html"

REVIEW_LABELS_ZH = {"source_changed": "来源已变", "disputed": "反馈差", "stale": "久未核实"}
UNKNOWN_TYPE_ZH = "未知类型"


@router.get("/review", response_model=ReviewPage, responses=responses(401, 403, 422, 503))
def review(
    viewer: AdminViewer,
    services: ServicesDep,
    request: Request,
    kind: ReviewKind = ReviewKind.FLAGGED,
    days: Annotated[
        int | None,
        Query(ge=1, le=3650, description="stale: unverified for more than N days (default 180)"),
    ] = None,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> ReviewPage:
    """Atoms to review, as the key may see them (like every read: team and private knowledge
    of others is listed in Neo4j Browser only). ``flagged``: a review flag (source changed,
    disputed, stale), source changes first; ``stale``: not verified for ``days`` days, oldest
    first; ``invalid``: missing or invalid fields, which keep the atom out of search or
    private to its owner until fixed. Each item links into Neo4j Browser."""
    settings = services.settings
    rows, total = services.store.review_atoms(
        kind.value, viewer, offset, limit, days or settings.stale_after_days
    )
    base = browser_base(settings, request)
    return ReviewPage(
        kind=kind,
        items=[_item(row, base) for row in rows],
        total=total,
        next_offset=next_offset(offset, len(rows), total),
    )


@page_router.get("/app/admin")
def admin_page() -> FileResponse:
    """The knowledge managers' page; its script and style load from /app/ like the reps'."""
    return FileResponse(ADMIN_PAGE, headers={"Cache-Control": "no-cache"})


def browser_base(settings: Settings, request: Request) -> str:
    """Neo4j Browser's address as the page's user reaches it: the setting, or the managed
    Neo4j on the host the page came from (its HTTP port), with its Bolt address filled in on
    the login form."""
    if settings.neo4j_browser_url:
        return settings.neo4j_browser_url
    host = request.url.hostname or "127.0.0.1"
    if ":" in host:  # IPv6
        host = f"[{host}]"
    bolt = f"neo4j://{settings.neo4j_user}@{host}:{settings.neo4j_bolt_port}"
    return f"{request.url.scheme}://{host}:{settings.neo4j_http_port}/browser/?" + urlencode(
        {"dbms": bolt}, quote_via=quote
    )


def browser_link(base: str, atom_id: str) -> str:
    """Browser with a query in its editor that shows the atom with its document and entities.

    The query is text for a curator to run, not something we execute; the id is written as
    an escaped Cypher string literal, so an odd id cannot change the query."""
    literal = atom_id.replace("\\", "\\\\").replace("'", "\\'")
    query = (
        f"MATCH (a:Atom {{id: '{literal}'}}) "
        "OPTIONAL MATCH (a)-[r:FROM|MENTIONS]->(n) RETURN a, r, n"
    )
    separator = "&" if "?" in base else "?"
    return base + separator + urlencode({"cmd": "edit", "arg": query}, quote_via=quote)


def _type_label(value: str | None) -> str:
    try:
        return ATOM_TYPE_LABELS_ZH[AtomType(value or "")]
    except ValueError:
        return UNKNOWN_TYPE_ZH


def _item(row: dict[str, Any], base: str) -> ReviewItem:
    atom_id = str(row["id"])
    return ReviewItem(
        id=atom_id,
        title=row["title"],
        type=row["type"],
        type_label=_type_label(row["type"]),
        status=row["status"],
        review=row["review"],
        review_label=REVIEW_LABELS_ZH.get(row["review"] or "", row["review"]),
        note=row["note"],
        problems=list(row["problems"] or []),
        unverified_days=row["days"],
        document_title=row["document_title"],
        document_path=row["document_path"],
        updated_at=row["updated_at"],
        browser_url=browser_link(base, atom_id),
    )
