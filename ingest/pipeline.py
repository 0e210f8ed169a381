"""The ingest run: discover files, load, split, write to the graph, report."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ingest.loaders import discover, load_text
from ingest.splitter import document_id, split
from kg.errors import IngestError
from kg.models import Document, content_hash
from kg.store import GraphStore

logger = logging.getLogger(__name__)


@dataclass
class IngestReport:
    """What an ingest run did, file by file."""

    documents: int = 0
    documents_unchanged: int = 0
    atoms_written: int = 0
    atoms_removed: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)


def ingest_paths(
    paths: list[Path],
    store: GraphStore,
    *,
    root: Path | None = None,
    on_file: Callable[[Path], None] | None = None,
) -> IngestReport:
    """Ingest files and folders; a bad file is reported and skipped, the rest lands.

    Args:
        paths: files or folders to ingest.
        store: where documents and atoms are written.
        root: base for document ids (default: each given folder, or a file's parent).
        on_file: called after each file, for progress bars.
    """
    report = IngestReport()
    for given in paths:
        base = root or (given if given.is_dir() else given.parent)
        for path in discover([given]):
            try:
                _ingest_file(path, base, store, report)
            except IngestError as exc:
                logger.warning("skipped %s: %s", path, exc)
                report.failures.append((str(path), str(exc)))
            if on_file:
                on_file(path)
    return report


def _ingest_file(path: Path, base: Path, store: GraphStore, report: IngestReport) -> None:
    source = load_text(path)
    relative = path.resolve().relative_to(base.resolve()).as_posix()
    doc_id = document_id(relative)
    atoms = split(source, doc_id)
    if not atoms:
        raise IngestError(f"{path}: no section long enough to become an atom")
    digest = content_hash(source.kind.value, source.title, *(a.content_hash for a in atoms))
    report.documents += 1
    if store.document_hash(doc_id) == digest:
        report.documents_unchanged += 1
        return
    document = Document(
        id=doc_id, path=relative, title=source.title, kind=source.kind, content_hash=digest
    )
    result = store.write_document(document, atoms)
    report.atoms_written += result.written
    report.atoms_removed += result.removed
    logger.info("ingested %s: %d atoms", relative, result.written)
