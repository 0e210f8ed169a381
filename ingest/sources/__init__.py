"""Source formats: find files, and parse each into a ``ParsedSource``."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ingest.limits import ParseLimits, check_atoms, check_zip, parse_budget
from ingest.parsed import ParsedSource, SourceText, metadata_entities
from ingest.sources import office, structured, tables
from ingest.sources.markdown import load_text
from ingest.splitter import SplitOptions, split
from ingest.triples import triples_to_graph
from kg.errors import IngestError
from kg.models import Atom, Document, DocumentKind, Entity, EntityKind, Relation, content_hash

TEXT_SUFFIXES = (".md", ".markdown", ".txt")
SUPPORTED_SUFFIXES = (*TEXT_SUFFIXES, ".docx", ".pdf", ".csv", ".tsv", ".xlsx", ".json", ".jsonl")
ZIP_SUFFIXES = (".docx", ".xlsx")
DEFAULT_LIMITS = ParseLimits()
# A folder's README describes the folder; it is not sales knowledge.
IGNORED_STEMS = {"readme"}


def discover(paths: list[Path]) -> list[Path]:
    """Supported files under the given files and folders, in a stable order."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(
                p
                for p in path.rglob("*")
                if p.is_file()
                and p.suffix.lower() in SUPPORTED_SUFFIXES
                and p.stem.lower() not in IGNORED_STEMS
                and not p.name.startswith((".", "~$"))
            )
        elif path.exists():
            found.append(path)
        else:
            raise IngestError(f"{path}: no such file or folder")
    return found


def parse_folder(folder: Path, options: SplitOptions | None = None) -> list[ParsedSource]:
    """Every source of a folder, parsed as an ingest would (collection = the folder's name),
    without touching the graph; used to export the corpus that golden sets judge."""
    collection = folder.resolve().name
    return [
        parse_file(
            path,
            path.resolve().relative_to(folder.resolve()).as_posix(),
            collection,
            {},
            options or SplitOptions(),
        )
        for path in discover([folder])
    ]


def document_id(collection: str, relative_path: str, namespace: str | None = None) -> str:
    """Stable id of a document from its owner's namespace, its collection and its path in it.

    The organisation's own documents (``namespace`` None) keep the id they always had; a
    team's or a user's same-named file is another document.
    """
    key = f"{collection}/{relative_path}"
    if namespace is not None:
        key = json.dumps([namespace, collection, relative_path], ensure_ascii=False)
    return "doc-" + hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]


def parse_file(
    path: Path,
    relative: str,
    collection: str,
    known: dict[str, EntityKind],
    options: SplitOptions,
    namespace: str | None = None,
    limits: ParseLimits = DEFAULT_LIMITS,
) -> ParsedSource:
    """Parse one file of any supported format within ``limits``; ``IngestError`` says what is
    wrong with it."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise IngestError(f"{path}: unsupported file type {suffix!r}")
    size = path.stat().st_size
    if size > limits.max_file_bytes:
        raise IngestError(
            f"{path}: 文件 {size} 字节，超过上限 {limits.max_file_bytes} "
            f"({size} bytes is over the {limits.max_file_bytes} byte limit)"
        )
    if size == 0:
        raise IngestError(f"{path}: the file is empty")
    if suffix in ZIP_SUFFIXES:
        check_zip(path, limits)
    with parse_budget(path, limits):
        parsed = _parse(
            path,
            suffix,
            document_id(collection, relative, namespace),
            relative,
            collection,
            known,
            options,
        )
    check_atoms(path, len(parsed.atoms), limits)
    parsed.document.namespace = namespace
    return parsed


def _parse(
    path: Path,
    suffix: str,
    doc_id: str,
    relative: str,
    collection: str,
    known: dict[str, EntityKind],
    options: SplitOptions,
) -> ParsedSource:
    if suffix in (*TEXT_SUFFIXES, ".docx", ".pdf"):
        source = {".docx": office.load_docx, ".pdf": office.load_pdf}.get(suffix, load_text)(path)
        return _from_text(source, doc_id, relative, collection, options)
    if suffix in (".csv", ".tsv", ".xlsx"):
        rows = tables.read_rows(path)
        layout = tables.table_layout(path, rows)
        if layout == "triples":
            graph = triples_to_graph(tables.triples_from_rows(rows), doc_id, known)
            kind = DocumentKind.TRIPLES
        elif layout == "glossary":
            graph = tables.glossary(rows, doc_id)
            kind = DocumentKind.GLOSSARY
        else:
            graph = tables.customers(rows, doc_id)
            kind = DocumentKind.CUSTOMER_LIST
        options.apply_defaults(graph[2])
        return _structured(
            path,
            Document(
                id=doc_id,
                path=relative,
                collection=collection,
                title=path.stem,
                kind=kind,
                content_hash="",
            ),
            *graph,
        )
    data = structured.read_json(path)
    document = Document(
        id=doc_id,
        path=relative,
        collection=collection,
        title=path.stem,
        kind=DocumentKind.CRM_EXPORT,
        content_hash="",
    )
    if structured.is_triple_base(data):
        assert isinstance(data, dict)
        graph = triples_to_graph(structured.triples_from_base(data), doc_id, known)
        options.apply_defaults(graph[2])
        document.kind = DocumentKind.TRIPLES
        return _structured(path, document, *graph)
    if not isinstance(data, list):
        raise IngestError(f"{path}: expected a JSON list of records or an object of triples")
    entities, atoms = structured.records_to_atoms(path, data, doc_id, options)
    return _structured(path, document, entities, [], atoms)


def _from_text(
    source: SourceText, doc_id: str, relative: str, collection: str, options: SplitOptions
) -> ParsedSource:
    atoms = split(source, doc_id, options)
    if not atoms:
        raise IngestError(f"{source.path}: no section long enough to become an atom")
    entities, relations = metadata_entities(source.metadata)
    document = Document(
        id=doc_id,
        path=relative,
        collection=collection,
        title=source.title,
        kind=source.kind,
        content_hash=content_hash(source.kind, source.title, *(a.content_hash for a in atoms)),
        metadata=source.metadata,
    )
    return ParsedSource(document, atoms, entities, relations, about=[e.id for e in entities])


def _structured(
    path: Path,
    document: Document,
    entities: list[Entity],
    relations: list[Relation],
    atoms: list[Atom],
) -> ParsedSource:
    if not atoms and not entities:
        raise IngestError(f"{path}: no rows or records to ingest")
    document.content_hash = content_hash(
        document.kind,
        *(a.content_hash + a.status for a in atoms),
        *(e.model_dump_json() for e in entities),
        *(r.model_dump_json() for r in relations),
    )
    return ParsedSource(document, atoms, entities, relations)
