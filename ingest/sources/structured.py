"""JSON and JSONL: structured atoms (a CRM export) or a knowledge base of triples.

A JSONL line, or an item of a JSON list, with ``text`` is one atom; its optional keys are
``id, type, title, customer, industry, product, owner, contributors, visibility, team, status``.
A JSON object whose values are lists of ``[entity, relation, value]`` is a knowledge base of
triples (the KdConv layout).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ingest.limits import tick
from ingest.parsed import GraphPart, ParsedSource, parse_status, parse_visibility
from ingest.sources.base import SourceContext, from_graph, new_document
from ingest.sources.markdown import read_utf8
from ingest.splitter import SplitOptions
from ingest.triples import triples_to_graph
from kg.errors import IngestError
from kg.models import Atom, AtomType, DocumentKind, Entity, EntityKind, SourceSpan

Record = dict[str, Any]


def read_json(path: Path) -> list[Record] | dict[str, Any]:
    text = read_utf8(path)
    if path.suffix.lower() == ".jsonl":
        records = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise IngestError(f"{path}: line {number} is not valid JSON ({exc.msg})") from exc
            if not isinstance(record, dict):
                raise IngestError(f"{path}: line {number} is not a JSON object")
            records.append(record)
        return records
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise IngestError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from exc
    if isinstance(data, dict | list):
        return data
    raise IngestError(f"{path}: expected a JSON list of records or an object of triples")


def is_triple_base(data: object) -> bool:
    return isinstance(data, dict) and all(
        isinstance(v, list) and all(isinstance(t, list) and len(t) == 3 for t in v)
        for v in data.values()
    )


def triples_from_base(data: dict[str, list[list[Any]]]) -> list[tuple[str, str, str]]:
    return [(str(h), str(r), str(t)) for triples in data.values() for h, r, t in triples]


def records_to_atoms(
    path: Path, records: list[Record], document_id: str, options: SplitOptions
) -> GraphPart:
    """Structured atoms; a record without text, or with an unknown type, fails the file."""
    entities: list[Entity] = []
    atoms: list[Atom] = []
    seen: set[str] = set()
    for number, record in enumerate(records, start=1):
        tick()
        text = str(record.get("text", "")).strip()
        if not text:
            raise IngestError(f"{path}: record {number} has no 'text'")
        mentioned = []
        for key, kind in (
            ("customer", EntityKind.CUSTOMER),
            ("industry", EntityKind.INDUSTRY),
            ("product", EntityKind.PRODUCT),
        ):
            if value := str(record.get(key, "")).strip():
                entity = Entity(kind=kind, name=value)
                entities.append(entity)
                mentioned.append(entity.id)
        source_id = str(record.get("id") or number)
        if source_id in seen:
            raise IngestError(f"{path}: record id {source_id!r} appears twice")
        seen.add(source_id)
        try:
            atoms.append(
                Atom(
                    id="atom-"
                    + hashlib.sha1(f"{document_id}\x1f{source_id}".encode()).hexdigest()[:16],
                    type=AtomType(record.get("type", "solution_point")),
                    title=str(record.get("title") or text[:20]),
                    text=text,
                    source=SourceSpan(document_id=document_id, section=source_id, start=0, end=0),
                    entities=mentioned,
                    owner=record.get("owner") or options.default_owner,
                    contributors=list(record.get("contributors", [])),
                    visibility=parse_visibility(
                        record.get("visibility"), options.default_visibility
                    ),
                    team=record.get("team") or options.default_team,
                    status=parse_status(record.get("status"), options.default_status),
                )
            )
        except (ValueError, ValidationError) as exc:
            raise IngestError(f"{path}: record {number} is invalid ({exc})") from exc
    return GraphPart(entities, [], atoms)


@dataclass(frozen=True)
class JsonParser:
    """JSON and JSONL: a CRM export's records, or a knowledge base of triples."""

    suffixes: tuple[str, ...] = (".json", ".jsonl")
    archives: tuple[str, ...] = ()

    def parse(self, path: Path, context: SourceContext) -> ParsedSource:
        data = read_json(path)
        document = new_document(path, context, DocumentKind.CRM_EXPORT)
        if is_triple_base(data):
            assert isinstance(data, dict)
            graph = triples_to_graph(triples_from_base(data), context.doc_id, context.known)
            context.options.apply_defaults(graph.atoms)
            document.kind = DocumentKind.TRIPLES
            return from_graph(path, document, graph)
        if not isinstance(data, list):
            raise IngestError(f"{path}: expected a JSON list of records or an object of triples")
        return from_graph(
            path, document, records_to_atoms(path, data, context.doc_id, context.options)
        )
