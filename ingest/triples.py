"""(entity, relation, value) triples -> entities, typed relations and one fact atom per entity.

Known relation names map to typed relations between typed entities (宁德时代 -所属行业-> 动力电池
becomes ``(:Customer)-[:IN_INDUSTRY]->(:Industry)``). A value that is itself a subject elsewhere
becomes a ``RELATED`` edge with the relation's name; any other value is an attribute, written
into the subject's fact atom. Long attribute values get an atom of their own.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Iterable, Mapping

from ingest.limits import tick
from ingest.parsed import GraphPart
from kg.models import Atom, AtomType, Entity, EntityKind, Relation, RelationType, SourceSpan

LONG_VALUE_CHARS = 150

# relation name -> (relation type, subject kind, object kind)
TYPED_RELATIONS: dict[str, tuple[RelationType, EntityKind, EntityKind]] = {
    "所属行业": (RelationType.IN_INDUSTRY, EntityKind.CUSTOMER, EntityKind.INDUSTRY),
    "行业": (RelationType.IN_INDUSTRY, EntityKind.CUSTOMER, EntityKind.INDUSTRY),
    "总部": (RelationType.LOCATED_IN, EntityKind.CUSTOMER, EntityKind.REGION),
    "地区": (RelationType.LOCATED_IN, EntityKind.CUSTOMER, EntityKind.REGION),
    "关注": (RelationType.CARES_ABOUT, EntityKind.CUSTOMER, EntityKind.TERM),
    "采购": (RelationType.BUYS, EntityKind.CUSTOMER, EntityKind.PRODUCT),
    "重点产品": (RelationType.BUYS, EntityKind.CUSTOMER, EntityKind.PRODUCT),
    "竞争产品": (RelationType.COMPETES_WITH, EntityKind.COMPETITOR, EntityKind.PRODUCT),
    "适用行业": (RelationType.FOR_INDUSTRY, EntityKind.PRODUCT, EntityKind.INDUSTRY),
    "相关术语": (RelationType.RELATED_TO, EntityKind.TERM, EntityKind.TERM),
    "上游": (RelationType.RELATED, EntityKind.INDUSTRY, EntityKind.INDUSTRY),
    "下游": (RelationType.RELATED, EntityKind.INDUSTRY, EntityKind.INDUSTRY),
}


def triples_to_graph(
    triples: Iterable[tuple[str, str, str]], document_id: str, known: dict[str, EntityKind]
) -> GraphPart:
    """Turn triples into entities, relations and fact atoms.

    Args:
        known: kinds of entities already in the graph, by name, to type subjects whose
            relations say nothing about their kind.
    """
    facts: OrderedDict[str, OrderedDict[tuple[str, str], None]] = OrderedDict()
    for head, relation, tail in triples:
        tick()
        head, relation, tail = head.strip(), relation.strip(), tail.strip()
        if head and relation and tail:
            facts.setdefault(head, OrderedDict())[(relation, tail)] = None
    kinds = _subject_kinds(facts, known)
    entities: dict[str, Entity] = {}
    relations: list[Relation] = []
    atoms: list[Atom] = []
    for head, pairs in facts.items():
        tick()
        subject = Entity(kind=kinds[head], name=head)
        entities.setdefault(subject.id, subject)
        attributes: list[tuple[str, str]] = []
        for relation, tail in pairs:
            typed = TYPED_RELATIONS.get(relation)
            if typed:
                target = Entity(kind=typed[2], name=tail)
            elif tail in facts:
                target = Entity(kind=kinds[tail], name=tail)
            else:
                attributes.append((relation, tail))
                continue
            entities.setdefault(target.id, target)
            rel_type = typed[0] if typed else RelationType.RELATED
            relations.append(
                Relation(source=subject.id, type=rel_type, target=target.id, name=relation)
            )
            attributes.append((relation, tail))
        atoms += _fact_atoms(subject, attributes, document_id)
    return GraphPart(list(entities.values()), relations, atoms)


def _subject_kinds(
    facts: Mapping[str, Mapping[tuple[str, str], None]], known: dict[str, EntityKind]
) -> dict[str, EntityKind]:
    kinds: dict[str, EntityKind] = {}
    for head, pairs in facts.items():
        kind = next((TYPED_RELATIONS[r][1] for r, _ in pairs if r in TYPED_RELATIONS), None)
        kinds[head] = kind or known.get(head, EntityKind.THING)
    return kinds


def _fact_atoms(subject: Entity, attributes: list[tuple[str, str]], document_id: str) -> list[Atom]:
    short: dict[str, list[str]] = OrderedDict()
    atoms = []
    for relation, value in attributes:
        if len(value) > LONG_VALUE_CHARS:
            atoms.append(
                _atom(subject, relation, f"{subject.name}（{relation}）：{value}", document_id)
            )
        else:
            short.setdefault(relation, []).append(value)
    if short:
        text = (
            f"{subject.name}：" + "；".join(f"{r}：{'、'.join(v)}" for r, v in short.items()) + "。"
        )
        atoms.insert(0, _atom(subject, "", text, document_id))
    return atoms


def _atom(subject: Entity, relation: str, text: str, document_id: str) -> Atom:
    key = f"{document_id}\x1f{subject.id}\x1f{relation}"
    return Atom(
        id="atom-" + hashlib.sha1(key.encode("utf-8")).hexdigest()[:16],
        type=AtomType.FACT,
        title=f"{subject.name} · {relation}" if relation else subject.name,
        text=text,
        source=SourceSpan(
            document_id=document_id, section=relation or subject.name, start=0, end=0
        ),
        entities=[subject.id],
    )
