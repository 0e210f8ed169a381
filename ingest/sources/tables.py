"""CSV and Excel: glossaries, customer lists and (entity, relation, value) triples.

The header decides the layout: a ``术语`` column is a glossary, a ``客户`` column a customer list,
three columns named head/relation/tail (or 实体/关系/值) are triples.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from zipfile import BadZipFile

from ingest.limits import tick
from ingest.parsed import GraphPart, ParsedSource, split_names
from ingest.sources.base import SourceContext, from_graph, new_document
from ingest.sources.markdown import read_utf8
from ingest.triples import triples_to_graph
from kg.errors import IngestError
from kg.models import (
    Atom,
    AtomType,
    DocumentKind,
    Entity,
    EntityKind,
    Relation,
    RelationType,
    SourceSpan,
)

TRIPLE_HEADERS = ({"head", "relation", "tail"}, {"实体", "关系", "值"})

Row = dict[str, str]


def read_rows(path: Path) -> list[Row]:
    """Rows of a CSV/TSV (UTF-8) or the first sheet of an .xlsx, keyed by the header row."""
    if path.suffix.lower() == ".xlsx":
        rows = list(_xlsx_rows(path))
    else:
        delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
        rows = list(csv.reader(read_utf8(path).splitlines(), delimiter=delimiter))
    if len(rows) < 2:
        raise IngestError(f"{path}: a table needs a header row and at least one data row")
    header = [h.strip() for h in rows[0]]
    out = []
    for number, row in enumerate(rows[1:], start=2):
        tick()
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(header):
            raise IngestError(
                f"{path}: row {number} has {len(row)} cells, the header {len(header)}"
            )
        out.append({h: (row[i].strip() if i < len(row) else "") for i, h in enumerate(header)})
    return out


def _xlsx_rows(path: Path) -> Iterator[list[str]]:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = load_workbook(str(path), read_only=True, data_only=True)
    except (InvalidFileException, BadZipFile, KeyError, ValueError, OSError) as exc:
        raise IngestError(f"{path}: not a readable Excel (.xlsx) file ({exc})") from exc
    try:
        for values in workbook.worksheets[0].iter_rows(values_only=True):
            tick()
            yield ["" if v is None else str(v) for v in values]
    finally:
        workbook.close()


def table_layout(path: Path, rows: list[Row]) -> str:
    columns = set(rows[0])
    if "术语" in columns:
        return "glossary"
    if "客户" in columns:
        return "customers"
    if any(h <= columns for h in TRIPLE_HEADERS):
        return "triples"
    raise IngestError(
        f"{path}: unknown table layout (columns {sorted(columns)}); expected a 术语 column "
        "(glossary), a 客户 column (customer list) or head/relation/tail (triples)"
    )


def triples_from_rows(rows: list[Row]) -> list[tuple[str, str, str]]:
    keys = ("head", "relation", "tail") if "head" in rows[0] else ("实体", "关系", "值")
    return [(r[keys[0]], r[keys[1]], r[keys[2]]) for r in rows]


def glossary(rows: list[Row], document_id: str) -> GraphPart:
    """One term entity (with aliases) and one term atom per row; related terms become edges."""
    entities, relations, atoms = [], [], []
    for number, row in enumerate(rows, start=2):
        tick()
        name = row["术语"]
        if not name:
            continue
        aliases = split_names(row.get("别名", ""))
        definition = row.get("定义", "")
        related = split_names(row.get("相关术语", ""))
        term = Entity(
            kind=EntityKind.TERM, name=name, aliases=aliases, description=definition or None
        )
        entities.append(term)
        for other in related:
            target = Entity(kind=EntityKind.TERM, name=other)
            entities.append(target)
            relations.append(
                Relation(
                    source=term.id, type=RelationType.RELATED_TO, target=target.id, name="相关术语"
                )
            )
        if not definition:
            continue
        parts = [f"{name}（{'、'.join(aliases)}）" if aliases else name, "：", definition]
        if industry := row.get("行业"):
            parts.insert(0, f"[{industry}] ")
        if related:
            parts.append(f" 相关术语：{'、'.join(related)}。")
        atoms.append(_row_atom(document_id, number, AtomType.TERM, name, "".join(parts), [term.id]))
    return GraphPart(entities, relations, atoms)


def customers(rows: list[Row], document_id: str) -> GraphPart:
    """Customer entities with aliases, their industry, region and products, and a fact atom."""
    entities, relations, atoms = [], [], []
    for number, row in enumerate(rows, start=2):
        name = row["客户"]
        if not name:
            continue
        customer = Entity(
            kind=EntityKind.CUSTOMER, name=name, aliases=split_names(row.get("别名", ""))
        )
        entities.append(customer)
        facts = []
        for column, kind, rel_type in (
            ("行业", EntityKind.INDUSTRY, RelationType.IN_INDUSTRY),
            ("地区", EntityKind.REGION, RelationType.LOCATED_IN),
            ("重点产品", EntityKind.PRODUCT, RelationType.BUYS),
        ):
            values = (
                split_names(row.get(column, ""))
                if column != "重点产品"
                else ([row[column]] if row.get(column) else [])
            )
            for value in values:
                target = Entity(kind=kind, name=value)
                entities.append(target)
                relations.append(
                    Relation(source=customer.id, type=rel_type, target=target.id, name=column)
                )
            if values:
                facts.append(f"{column}：{'、'.join(values)}")
        alias_text = f"（又称{'、'.join(customer.aliases)}）" if customer.aliases else ""
        text = f"{name}{alias_text}：" + "；".join(facts) + "。"
        atoms.append(_row_atom(document_id, number, AtomType.FACT, name, text, [customer.id]))
    return GraphPart(entities, relations, atoms)


def _row_atom(
    document_id: str, row: int, atom_type: AtomType, title: str, text: str, entities: list[str]
) -> Atom:
    key = f"{document_id}\x1f{title}"
    return Atom(
        id="atom-" + hashlib.sha1(key.encode("utf-8")).hexdigest()[:16],
        type=atom_type,
        title=title,
        text=text,
        source=SourceSpan(document_id=document_id, section=f"第{row}行", start=0, end=0),
        entities=entities,
    )


@dataclass(frozen=True)
class TableParser:
    """CSV/TSV and Excel: the header decides the layout (glossary, customer list, triples)."""

    suffixes: tuple[str, ...] = (".csv", ".tsv", ".xlsx")
    archives: tuple[str, ...] = (".xlsx",)

    def parse(self, path: Path, context: SourceContext) -> ParsedSource:
        rows = read_rows(path)
        layout = table_layout(path, rows)
        if layout == "triples":
            graph = triples_to_graph(triples_from_rows(rows), context.doc_id, context.known)
            kind = DocumentKind.TRIPLES
        elif layout == "glossary":
            graph = glossary(rows, context.doc_id)
            kind = DocumentKind.GLOSSARY
        else:
            graph = customers(rows, context.doc_id)
            kind = DocumentKind.CUSTOMER_LIST
        context.options.apply_defaults(graph.atoms)
        return from_graph(path, new_document(path, context, kind), graph)
