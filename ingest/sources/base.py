"""The ``SourceParser`` interface: one family of file formats, the suffixes it reads, and how
each file becomes a ``ParsedSource``.

Text formats yield a ``SourceText`` (cut into atoms by section); structured formats yield a
``GraphPart`` (entities, relations, atoms). ``ingest/sources/registry.py`` lists the parsers;
the suffixes it knows are the supported ones.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ingest.parsed import GraphPart, ParsedSource, SourceText, metadata_entities
from ingest.splitter import SplitOptions, split
from kg.errors import IngestError
from kg.models import Document, DocumentKind, EntityKind, content_hash


@dataclass(frozen=True)
class SourceContext:
    """Where a file sits and how this run reads it."""

    doc_id: str
    relative: str  # the file's path in its collection
    collection: str
    known: dict[str, EntityKind]  # kinds of the graph's entities, by name (typing triples)
    options: SplitOptions


class SourceParser(Protocol):
    """Parses the files of some suffixes into documents with their atoms."""

    @property
    def suffixes(self) -> tuple[str, ...]:
        """The suffixes it reads, lower-case with the dot."""
        ...

    @property
    def archives(self) -> tuple[str, ...]:
        """Those of its suffixes that are zip archives (checked against the limits first)."""
        ...

    def parse(self, path: Path, context: SourceContext) -> ParsedSource: ...


@dataclass(frozen=True)
class TextParser:
    """Formats read as text and cut into atoms by section (Markdown, text, Word, PDF)."""

    suffixes: tuple[str, ...]
    load: Callable[[Path], SourceText]
    archives: tuple[str, ...] = ()

    def parse(self, path: Path, context: SourceContext) -> ParsedSource:
        return from_text(self.load(path), context)


def new_document(path: Path, context: SourceContext, kind: DocumentKind) -> Document:
    """A structured source's document, titled after its file; hashed by ``from_graph``."""
    return Document(
        id=context.doc_id,
        path=context.relative,
        collection=context.collection,
        title=path.stem,
        kind=kind,
        content_hash="",
    )


def from_text(source: SourceText, context: SourceContext) -> ParsedSource:
    atoms = split(source, context.doc_id, context.options)
    if not atoms:
        raise IngestError(f"{source.path}: no section long enough to become an atom")
    entities, relations = metadata_entities(source.metadata)
    document = Document(
        id=context.doc_id,
        path=context.relative,
        collection=context.collection,
        title=source.title,
        kind=source.kind,
        content_hash=content_hash(source.kind, source.title, *(a.content_hash for a in atoms)),
        metadata=source.metadata,
    )
    return ParsedSource(document, atoms, entities, relations, about=[e.id for e in entities])


def from_graph(path: Path, document: Document, graph: GraphPart) -> ParsedSource:
    if not graph.atoms and not graph.entities:
        raise IngestError(f"{path}: no rows or records to ingest")
    document.content_hash = content_hash(
        document.kind,
        *(a.content_hash + a.status for a in graph.atoms),
        *(e.model_dump_json() for e in graph.entities),
        *(r.model_dump_json() for r in graph.relations),
    )
    return ParsedSource(document, graph.atoms, graph.entities, graph.relations)
