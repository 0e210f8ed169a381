"""Reading the graph: one atom or one entity with its neighbourhood, and finding entities."""

from __future__ import annotations

from collections import Counter
from typing import Annotated

from fastapi import APIRouter, Path, Query

from api.deps import ReaderViewer, ServicesDep
from api.errors import responses
from api.schemas import (
    MAX_OFFSET,
    AtomDetail,
    EntityDetail,
    EntityPage,
    EntityRef,
    EntitySummary,
    FeedbackKind,
    RelationPublic,
    next_offset,
)
from api.views import atom_public, citation_public, entity_refs
from kg.errors import NotFoundError
from kg.models import SEARCHABLE_STATUSES, EntityKind

router = APIRouter(prefix="/v1", tags=["knowledge"])
ERRORS = responses(401, 403, 404, 503)
MAX_RELATIONS = 200


@router.get("/atoms/{atom_id}", response_model=AtomDetail, responses=ERRORS)
def read_atom(
    atom_id: Annotated[str, Path(max_length=64)], viewer: ReaderViewer, services: ServicesDep
) -> AtomDetail:
    """An atom with its source, the entities it mentions, its near-duplicates and its
    feedback. 404 for an atom the key may not see, exactly as for one that does not exist."""
    found = services.store.atoms([atom_id])
    if not found or not viewer.can_see(found[0].live_meta()):
        raise NotFoundError(f"没有这条知识：{atom_id} (no such atom)")
    stored = found[0]
    duplicates, feedback = services.store.atom_neighbourhood(atom_id)
    counts = Counter(feedback)
    graph = services.current.bundle.graph if services.ready else None
    return AtomDetail(
        atom=atom_public(stored),
        citation=citation_public(stored),
        entities=entity_refs(stored.atom.entities, graph)
        if graph
        else [EntityRef(id=i, name=i.split(":", 1)[-1], kind="") for i in stored.atom.entities],
        duplicates=[d["id"] for d in duplicates if viewer.can_see(d)],
        feedback={k.value: counts.get(k.value, 0) for k in FeedbackKind},
    )


@router.get("/entities", response_model=EntityPage, responses=ERRORS)
def find_entities(
    viewer: ReaderViewer,
    services: ServicesDep,
    q: Annotated[str | None, Query(max_length=100, description="part of a name or alias")] = None,
    kind: EntityKind | None = None,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> EntityPage:
    """Customers, industries, products, competitors, terms... by name or alias, most
    mentioned first. Only entities backed by an atom or document the key may see are listed,
    with the aliases it may see; ``mentions`` counts the atoms it may see."""
    rows, total = services.store.find_entities(
        q.strip() if q else None, kind.value if kind else None, offset, limit, viewer
    )
    return EntityPage(
        items=[EntitySummary(**r) for r in rows],
        total=total,
        next_offset=next_offset(offset, len(rows), total),
    )


@router.get("/entities/{entity_id}", response_model=EntityDetail, responses=ERRORS)
def read_entity(
    entity_id: Annotated[str, Path(max_length=200, examples=["customer:宁德时代"])],
    viewer: ReaderViewer,
    services: ServicesDep,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> EntityDetail:
    """An entity, its relations, and a page of the atoms about it that the key may see (the
    total counts only those). 404 for an entity nothing the key may see backs, exactly as for
    one that does not exist."""
    store = services.store
    entity = store.entity(entity_id, viewer)
    if entity is None:
        raise NotFoundError(f"没有这个实体：{entity_id} (no such entity)")
    visible = [
        a["id"] for a in store.entity_atoms(entity_id, SEARCHABLE_STATUSES) if viewer.can_see(a)
    ]
    page = store.atoms(visible[offset : offset + limit])
    return EntityDetail(
        entity=EntityRef(id=entity["id"], name=entity["name"], kind=entity["kind"]),
        aliases=entity["aliases"],
        description=entity["description"],
        relations=[
            RelationPublic(
                type=r["type"],
                name=r["name"],
                direction="out" if r["outgoing"] else "in",
                other=EntityRef(id=r["id"], name=r["other_name"], kind=r["kind"]),
            )
            for r in store.entity_relations(entity_id, MAX_RELATIONS, viewer)
        ],
        atoms=[atom_public(a) for a in page if viewer.can_see(a.live_meta())],
        atoms_total=len(visible),
        next_offset=next_offset(offset, len(page), len(visible)),
    )
