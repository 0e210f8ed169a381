"""What a parser makes of one source: its document, atoms, entities and relations."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from kg.models import (
    Atom,
    CurationStatus,
    Document,
    DocumentKind,
    Entity,
    EntityKind,
    Relation,
    RelationType,
    Visibility,
)

VISIBILITY_BY_LABEL = {
    "公开": Visibility.PUBLIC,
    "public": Visibility.PUBLIC,
    "团队": Visibility.TEAM,
    "team": Visibility.TEAM,
    "个人": Visibility.PRIVATE,
    "私有": Visibility.PRIVATE,
    "private": Visibility.PRIVATE,
}
STATUS_BY_LABEL = {
    "草稿": CurationStatus.DRAFT,
    "draft": CurationStatus.DRAFT,
    "已审核": CurationStatus.APPROVED,
    "approved": CurationStatus.APPROVED,
    "已废弃": CurationStatus.DEPRECATED,
    "deprecated": CurationStatus.DEPRECATED,
}


def parse_visibility(label: str | None, default: Visibility = Visibility.PUBLIC) -> Visibility:
    if not label:
        return default
    if label not in VISIBILITY_BY_LABEL:
        raise ValueError(f"unknown visibility {label!r}; use one of {list(VISIBILITY_BY_LABEL)}")
    return VISIBILITY_BY_LABEL[label]


def parse_status(label: str | None, default: CurationStatus) -> CurationStatus:
    if not label:
        return default
    if label not in STATUS_BY_LABEL:
        raise ValueError(f"unknown status {label!r}; use one of {list(STATUS_BY_LABEL)}")
    return STATUS_BY_LABEL[label]


@dataclass(frozen=True)
class SourceText:
    """A text source and what is known about it; offsets are into ``body``'s file text."""

    path: Path
    title: str
    kind: DocumentKind
    body: str
    body_offset: int
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass
class GraphPart:
    """What a structured source (a table, a JSON export, triples) yields before it becomes a
    document: entities, the relations between them, and atoms."""

    entities: list[Entity] = field(default_factory=list)
    relations: list[Relation] = field(default_factory=list)
    atoms: list[Atom] = field(default_factory=list)


@dataclass
class ParsedSource:
    """One source file, parsed; ``about`` are entity ids the whole document is about."""

    document: Document
    atoms: list[Atom]
    entities: list[Entity] = field(default_factory=list)
    relations: list[Relation] = field(default_factory=list)
    about: list[str] = field(default_factory=list)


# A slash separates names (宁德时代/CATL, 芯片设计/EDA) except between two ASCII letters or
# digits, where it is part of one: units (Wh/kg), standards (ISO/SAE 21434), PET/CT, DC/AC.
_NAME_SLASH = re.compile(r"(?<![A-Za-z0-9])/|/(?![A-Za-z0-9])")


def split_names(value: str) -> list[str]:
    """'a|b、c;d/e' -> ['a', 'b', 'c', 'd', 'e'] (lists in cells and front matter); 'Wh/kg'
    stays one name."""
    for sep in ("、", ";", "；", ",", "，"):
        value = value.replace(sep, "|")
    value = _NAME_SLASH.sub("|", value)
    return [v.strip() for v in value.split("|") if v.strip()]


def metadata_entities(metadata: dict[str, str]) -> tuple[list[Entity], list[Relation]]:
    """Entities named in a document's front matter (客户, 行业, 产品) and their relations."""
    customers = [
        Entity(kind=EntityKind.CUSTOMER, name=n) for n in split_names(metadata.get("客户", ""))
    ]
    industries = [
        Entity(kind=EntityKind.INDUSTRY, name=n) for n in split_names(metadata.get("行业", ""))
    ]
    products = (
        [Entity(kind=EntityKind.PRODUCT, name=metadata["产品"].strip())]
        if metadata.get("产品")
        else []
    )
    relations = [
        Relation(source=c.id, type=RelationType.IN_INDUSTRY, target=i.id, name="所属行业")
        for c in customers
        for i in industries
    ]
    return [*customers, *industries, *products], relations
