"""The ingest run: parse, write entities, link, write changed atoms, sync removals, report.

Documents are written in batches, one transaction each: the documents with their hashes, their
new and changed atoms, deletions and mentions. An interrupted run, rerun, therefore redoes
exactly the documents whose hashes did not land, and never duplicates an atom (atom ids are
stable).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ingest.dedup import near_duplicates
from ingest.parsed import ParsedSource
from ingest.sources import discover, parse_file
from ingest.splitter import SplitOptions
from kg.dictionary import EntityDictionary, load_into_jieba, unknown_candidates
from kg.errors import IngestError
from kg.models import Atom, CurationStatus, EntityKind, Visibility
from kg.store import DictionaryEntry, DocumentState, DocumentWrite, GraphStore

logger = logging.getLogger(__name__)

# Candidate detection reads text atoms only: fact atoms from triples are names already.
CANDIDATE_KINDS = {"case_study", "post_mortem", "note", "crm_export", "voice_debrief"}


@dataclass(frozen=True)
class IngestOptions:
    """How an ingest run treats what it finds."""

    collection: str | None = None
    on_removed: Literal["delete", "deprecate"] = "delete"
    sync_removed: bool = True
    default_status: CurationStatus = CurationStatus.DRAFT
    # For atoms whose source does not say (uploads through the API take the caller's team).
    default_visibility: Visibility = Visibility.PUBLIC
    default_team: str | None = None
    default_owner: str | None = None
    duplicate_threshold: float = 0.8
    batch_atoms: int = 1000  # documents are written in transactions of about this many atoms


@dataclass
class IngestReport:
    """What an ingest run did."""

    documents: int = 0
    documents_new: int = 0
    documents_changed: int = 0
    documents_unchanged: int = 0
    documents_relinked: int = 0
    documents_removed: int = 0
    atoms_created: int = 0
    atoms_updated: int = 0
    atoms_unchanged: int = 0
    atoms_removed: int = 0
    atoms_held: int = 0  # curated atoms whose source changed: flagged for review, not written
    entities: int = 0
    relations: int = 0
    mentions: int = 0
    duplicates: int = 0
    candidates: list[tuple[str, int, list[str]]] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def atoms_written(self) -> int:
        return self.atoms_created + self.atoms_updated


@dataclass(frozen=True)
class _Unit:
    path: Path
    relative: str
    collection: str


def ingest_paths(
    paths: list[Path],
    store: GraphStore,
    options: IngestOptions | None = None,
    *,
    on_file: Callable[[Path], None] | None = None,
) -> IngestReport:
    """Ingest files and folders; a bad file is reported and skipped, the rest lands.

    Args:
        paths: files or folders. A folder is a collection (named after the folder unless
            ``options.collection`` says otherwise); documents once ingested from it whose
            files are gone are removed or deprecated.
        store: where everything is written.
        on_file: called after each file is parsed and after each is written (progress bars).
    """
    options = options or IngestOptions()
    started = time.perf_counter()
    report = IngestReport()
    units = _units(paths, options)
    known = {e.name: EntityKind(e.kind) for e in store.entity_dictionary()}
    split_options = SplitOptions(
        default_status=options.default_status,
        default_visibility=options.default_visibility,
        default_team=options.default_team,
        default_owner=options.default_owner,
    )

    parsed: dict[Path, ParsedSource] = {}
    for unit in units:
        try:
            parsed[unit.path] = parse_file(
                unit.path, unit.relative, unit.collection, known, split_options
            )
        except IngestError as exc:
            logger.warning("skipped %s: %s", unit.path, exc)
            report.failures.append((str(unit.path), str(exc)))
            if on_file:
                on_file(unit.path)

    _write_sources(parsed, store, options, report, on_file)
    _sync_removed(paths, units, report, store, options)
    report.seconds = time.perf_counter() - started
    return report


def ingest_sources(
    sources: dict[Path, ParsedSource],
    store: GraphStore,
    options: IngestOptions | None = None,
    *,
    on_file: Callable[[Path], None] | None = None,
) -> IngestReport:
    """Ingest sources parsed elsewhere (e.g. transcribed voice debriefs), exactly as files are."""
    started = time.perf_counter()
    report = IngestReport()
    _write_sources(sources, store, options or IngestOptions(), report, on_file)
    report.seconds = time.perf_counter() - started
    return report


def _write_sources(
    parsed: dict[Path, ParsedSource],
    store: GraphStore,
    options: IngestOptions,
    report: IngestReport,
    on_file: Callable[[Path], None] | None,
) -> None:
    """Entities first, then linking, changed atoms in batches, duplicates and candidates."""
    states = store.document_states([p.document.id for p in parsed.values()])
    _fold_merged_entities(parsed.values(), store.entity_dictionary())
    retired = store.retired_atoms()
    changed = [p for p in parsed.values() if _content_changed(p, states.get(p.document.id))]
    entities = [e for p in changed for e in p.entities]
    relations = [r for p in changed for r in p.relations]
    store.upsert_entities(entities)
    store.upsert_relations(relations)
    report.entities, report.relations = len({e.id for e in entities}), len(relations)

    dictionary = EntityDictionary(store.entity_dictionary())
    load_into_jieba(dictionary)
    written: list[Atom] = []
    batch: list[tuple[Path, DocumentWrite | None]] = []
    for path, source in parsed.items():
        change = _plan(source, states.get(source.document.id), dictionary, report, retired)
        batch.append((path, change))
        if change:
            written += change.upsert
        if sum(len(c.upsert) + 1 for _, c in batch if c) >= options.batch_atoms:
            _flush(batch, store, on_file)
    _flush(batch, store, on_file)

    if written:
        everything = store.atom_texts()
        pairs = near_duplicates(
            [(a.id, a.source.document_id, a.text) for a in written],
            everything,
            options.duplicate_threshold,
        )
        store.link_duplicates(pairs)
        report.duplicates = len(pairs)
        text_docs = {p.document.id for p in parsed.values() if p.document.kind in CANDIDATE_KINDS}
        texts = [a.text for a in written if a.source.document_id in text_docs]
        report.candidates = unknown_candidates(texts, dictionary)
        store.save_candidates(report.candidates)


def _fold_merged_entities(sources: Iterable[ParsedSource], known: list[DictionaryEntry]) -> None:
    """A name a curator merged into another entity (it is now that entity's alias) maps to that
    entity, so that ingest does not bring the merged-away entity back."""
    ids = {e.id for e in known}
    owner = {alias: e.id for e in known for alias in e.aliases}
    for source in sources:
        remap = {
            e.id: owner[e.name]
            for e in source.entities
            if e.id not in ids and e.name in owner and owner[e.name] != e.id
        }
        if not remap:
            continue
        source.entities = [e for e in source.entities if e.id not in remap]
        source.relations = [
            r.model_copy(
                update={
                    "source": remap.get(r.source, r.source),
                    "target": remap.get(r.target, r.target),
                }
            )
            for r in source.relations
        ]
        source.about = list(dict.fromkeys(remap.get(i, i) for i in source.about))
        for atom in source.atoms:
            atom.entities = list(dict.fromkeys(remap.get(i, i) for i in atom.entities))


def _units(paths: list[Path], options: IngestOptions) -> list[_Unit]:
    units = []
    for given in paths:
        base = given if given.is_dir() else given.parent
        collection = options.collection or base.resolve().name
        for path in discover([given]):
            relative = path.resolve().relative_to(base.resolve()).as_posix()
            units.append(_Unit(path, relative, collection))
    return units


def _content_changed(source: ParsedSource, state: DocumentState | None) -> bool:
    return state is None or state.removed or state.content_hash != source.document.content_hash


def _flush(
    batch: list[tuple[Path, DocumentWrite | None]],
    store: GraphStore,
    on_file: Callable[[Path], None] | None,
) -> None:
    """Write a batch of documents in one transaction, then report their files done."""
    changes = [change for _, change in batch if change is not None]
    if changes:
        store.write_documents(changes)
    if on_file:
        for path, _ in batch:
            on_file(path)
    batch.clear()


def _plan(
    source: ParsedSource,
    state: DocumentState | None,
    dictionary: EntityDictionary,
    report: IngestReport,
    retired: frozenset[str] = frozenset(),
) -> DocumentWrite | None:
    """What to write for one document (None when nothing changed); counts it in the report.

    Atoms a curator merged away or deleted (``retired``) are not brought back.
    """
    doc = source.document
    report.documents += 1
    source.atoms = [a for a in source.atoms if a.id not in retired]
    for atom in source.atoms:
        linked = dictionary.entity_ids(f"{atom.title}\n{atom.text}")
        atom.entities = list(dict.fromkeys([*atom.entities, *linked]))
    content_same = (
        state is not None and not state.removed and state.content_hash == doc.content_hash
    )
    if content_same and state.link_hash == dictionary.fingerprint:
        report.documents_unchanged += 1
        report.atoms_unchanged += len(source.atoms)
        return None
    existing = state.atoms if state is not None else {}
    # A document back after removal rewrites all its atoms (they were deprecated).
    old = {} if state is not None and state.removed else existing
    changed = [a for a in source.atoms if old.get(a.id) != a.content_hash]
    curated = state.curated if state is not None else frozenset()
    hold = [a for a in changed if a.id in curated]
    upsert = [a for a in changed if a.id not in curated]
    keep = {a.id for a in source.atoms}
    gone = [atom_id for atom_id in existing if atom_id not in keep]
    delete = [atom_id for atom_id in gone if atom_id not in curated]
    orphaned = [atom_id for atom_id in gone if atom_id in curated]
    report.atoms_held += len(hold) + len(orphaned)
    created = sum(1 for a in upsert if a.id not in existing)
    report.atoms_created += created
    report.atoms_updated += len(upsert) - created
    report.atoms_unchanged += len(source.atoms) - len(upsert)
    report.atoms_removed += len(delete)
    report.mentions += sum(len(a.entities) for a in source.atoms)
    if state is None:
        report.documents_new += 1
    elif content_same:
        report.documents_relinked += 1
    else:
        report.documents_changed += 1
    logger.info("planned %s: %d to write, %d to remove", doc.path, len(upsert), len(delete))
    return DocumentWrite(
        document=doc,
        link_hash=dictionary.fingerprint,
        about=source.about,
        upsert=upsert,
        delete=delete,
        mentions={a.id: a.entities for a in source.atoms if a.id not in curated},
        hold=hold,
        orphaned=orphaned,
    )


def _sync_removed(
    paths: list[Path],
    units: list[_Unit],
    report: IngestReport,
    store: GraphStore,
    options: IngestOptions,
) -> None:
    """Documents of a synced folder whose files are gone leave the graph (or are deprecated).

    A file that is still there but failed to parse keeps its earlier atoms.
    """
    if not options.sync_removed:
        return
    present = {(u.collection, u.relative) for u in units}
    for given in paths:
        if not given.is_dir():
            continue
        collection = options.collection or given.resolve().name
        gone = [
            doc_id
            for doc_id, path in store.collection_documents(collection).items()
            if (collection, path) not in present
        ]
        if gone:
            report.atoms_removed += store.remove_documents(gone, options.on_removed)
            report.documents_removed += len(gone)
            logger.info("%s %d documents gone from %s", options.on_removed, len(gone), collection)
