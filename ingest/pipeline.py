"""The ingest run: parse, write entities, link, write changed atoms, sync removals, report.

Documents are written in batches, one transaction each: the documents with their hashes, their
new and changed atoms, deletions and mentions. An interrupted run, rerun, therefore redoes
exactly the documents whose hashes did not land, and never duplicates an atom (atom ids are
stable).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ingest.claims import enforce_claims
from ingest.dedup import near_duplicates
from ingest.limits import ParseLimits
from ingest.parsed import ParsedSource
from ingest.sources import discover, document_id, parse_file
from ingest.splitter import SplitOptions
from kg.access import Viewer, Writer
from kg.dictionary import EntityDictionary, load_into_jieba, unknown_candidates
from kg.errors import IngestError
from kg.models import CurationStatus, DictionaryEntry, Entity, EntityKind, Visibility
from kg.store import DocumentState, DocumentWrite, IngestStore

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
    # Who writes: the operator (CLI) by default; an API key's writer for uploads. It decides
    # the documents' namespace and what their files may claim (ingest/claims.py).
    writer: Writer = field(default_factory=Writer.operator)
    limits: ParseLimits = field(default_factory=ParseLimits)


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
    warnings: list[str] = field(default_factory=list)
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
    store: IngestStore,
    options: IngestOptions | None = None,
    *,
    on_file: Callable[[Path], None] | None = None,
    on_stage: Callable[[str], None] | None = None,
    on_total: Callable[[int], None] | None = None,
    on_atoms: Callable[[list[str]], None] | None = None,
) -> IngestReport:
    """Ingest files and folders; a bad file is reported and skipped, the rest lands.

    Args:
        paths: files or folders. A folder is a collection (named after the folder unless
            ``options.collection`` says otherwise); documents once ingested from it whose
            files are gone are removed or deprecated.
        store: where everything is written.
        on_file: called after each file is parsed and after each is written (progress bars).
        on_total: called once with the number of files found, before any is parsed.
        on_stage: called with ``"batch"`` after each transaction of documents, ``"atoms"``
            once all are written and ``"derived"`` when derived data is in the graph (logs;
            the crash tests stop Neo4j at these points).
        on_atoms: called with the texts of each document's atoms about to be written, before
            they are (``skg ingest`` embeds them meanwhile, for the index sync that follows).
    """
    options = options or IngestOptions()
    started = time.perf_counter()
    report = IngestReport()
    units = _units(paths, options)
    if on_total:
        on_total(len(units))
    entries = store.entity_dictionary()
    vocabulary = EntityDictionary(entries)
    known = {e.name: EntityKind(e.kind) for e in entries}
    split_options = SplitOptions(
        default_status=options.default_status,
        default_visibility=options.default_visibility,
        default_team=options.default_team,
        default_owner=options.default_owner,
    )
    keys = {unit.path: _source_key(unit.path, split_options, options.writer) for unit in units}
    unchanged = _unchanged(units, keys, store, vocabulary.fingerprint, options)

    parsed: dict[Path, ParsedSource] = {}
    for unit in units:
        if unit.path in unchanged:  # the same bytes, read the same way, linked the same way
            report.documents += 1
            report.documents_unchanged += 1
            report.atoms_unchanged += unchanged[unit.path]
            if on_file:
                on_file(unit.path)
            continue
        try:
            source = parse_file(
                unit.path,
                unit.relative,
                unit.collection,
                known,
                split_options,
                namespace=options.writer.namespace,
                limits=options.limits,
            )
            report.warnings += enforce_claims(source.atoms, options.writer, unit.relative)
            source.document.source_hash = keys[unit.path]
            parsed[unit.path] = source
        except IngestError as exc:
            logger.warning("skipped %s: %s", unit.path, exc)
            report.failures.append((str(unit.path), str(exc)))
            if on_file:
                on_file(unit.path)

    _write_sources(
        parsed, store, options, report, on_file, on_stage, (entries, vocabulary), on_atoms
    )
    _sync_removed(paths, units, report, store, options)
    report.seconds = time.perf_counter() - started
    return report


def ingest_sources(
    sources: dict[Path, ParsedSource],
    store: IngestStore,
    options: IngestOptions | None = None,
    *,
    on_file: Callable[[Path], None] | None = None,
) -> IngestReport:
    """Ingest sources parsed elsewhere (e.g. transcribed voice debriefs), exactly as files are."""
    started = time.perf_counter()
    report = IngestReport()
    options = options or IngestOptions()
    accepted = {}
    for path, source in sources.items():
        try:
            report.warnings += enforce_claims(source.atoms, options.writer, source.document.path)
            accepted[path] = source
        except IngestError as exc:
            report.failures.append((str(path), str(exc)))
    _write_sources(accepted, store, options, report, on_file)
    report.seconds = time.perf_counter() - started
    return report


def _write_sources(
    parsed: dict[Path, ParsedSource],
    store: IngestStore,
    options: IngestOptions,
    report: IngestReport,
    on_file: Callable[[Path], None] | None,
    on_stage: Callable[[str], None] | None = None,
    known: tuple[list[DictionaryEntry], EntityDictionary] | None = None,
    on_atoms: Callable[[list[str]], None] | None = None,
) -> None:
    """Entities first, then linking, changed atoms in batches, then what is derived from them
    (near-duplicates, entity candidates). A document counts as derived only once all of that
    is in the graph, so a run interrupted after its atoms landed is completed by the next.

    ``known``: the graph's vocabulary as the caller already read it (entries and their
    dictionary); it is read again only after this run wrote entities."""

    def stage(name: str) -> None:
        logger.debug("ingest stage: %s", name)
        if on_stage:
            on_stage(name)

    if not parsed:  # every file unchanged (or refused): only an interrupted run to finish
        _derive(store, set(), known[1] if known else None, options, report)
        return
    states = store.document_states([p.document.id for p in parsed.values()])
    parsed = _writable(parsed, states, options.writer, report, on_file)
    entries, dictionary = known if known else (store.entity_dictionary(), None)
    _fold_merged_entities(parsed.values(), entries)
    retired = store.retired_atoms()
    changed = [p for p in parsed.values() if _content_changed(p, states.get(p.document.id))]
    entities = [e for p in changed for e in p.entities]
    relations = [
        r.model_copy(update={"document_id": p.document.id}) for p in changed for r in p.relations
    ]
    store.upsert_entities(entities)
    store.upsert_relations(relations)
    report.entities, report.relations = len({e.id for e in entities}), len(relations)

    if entities:  # the vocabulary may have grown: link against the graph's, as written
        dictionary = EntityDictionary(store.entity_dictionary())
    elif dictionary is None:
        dictionary = EntityDictionary(entries)
    load_into_jieba(dictionary)
    written: set[str] = set()
    batch: list[tuple[Path, DocumentWrite | None]] = []
    keys: dict[str, str] = {}  # unchanged documents' source keys, so the next run skips them
    for path, source in parsed.items():
        state = states.get(source.document.id)
        change = _plan(source, state, dictionary, report, retired)
        batch.append((path, change))
        if change:
            written.add(change.document.id)
            if on_atoms and change.upsert:
                on_atoms([atom.text for atom in change.upsert])
        elif state and source.document.source_hash not in (None, state.source_hash):
            keys[source.document.id] = str(source.document.source_hash)
        if sum(len(c.upsert) + 1 for _, c in batch if c) >= options.batch_atoms:
            _flush(batch, store, options.writer, options.batch_atoms, on_file)
            stage("batch")
    _flush(batch, store, options.writer, options.batch_atoms, on_file)
    store.set_source_hashes(keys)
    stage("atoms")
    _derive(store, written, dictionary, options, report)
    stage("derived")


def _writable(
    parsed: dict[Path, ParsedSource],
    states: dict[str, DocumentState],
    writer: Writer,
    report: IngestReport,
    on_file: Callable[[Path], None] | None,
) -> dict[Path, ParsedSource]:
    """The sources ``writer`` may write: a document of the same id holding atoms the writer
    may not see (a colleague's private notes under the same name) is refused, not replaced.
    The store checks the same again in the writing transaction."""
    if writer.trusted:
        return parsed
    me = Viewer(key_id="", name=writer.label, team=writer.team, user=writer.user)
    allowed = {}
    for path, source in parsed.items():
        state = states.get(source.document.id)
        if state is not None and not all(me.can_see(a) for a in state.access):
            reason = (
                f"{source.document.path}: 同名文档含有你无权查看的内容，不能覆盖；请改名后上传 "
                "(a document of that name holds knowledge you may not see)"
            )
            report.failures.append((str(path), reason))
            if on_file:
                on_file(path)
            continue
        allowed[path] = source
    return allowed


def _derive(
    store: IngestStore,
    written: set[str],
    dictionary: EntityDictionary | None,
    options: IngestOptions,
    report: IngestReport,
) -> None:
    """Near-duplicate links and entity candidates of the documents written now, and of any
    an interrupted run left underived; then mark them derived."""
    targets = written | {doc_id for doc_id, _ in store.underived_documents()}
    if not targets:
        return
    if dictionary is None:
        dictionary = EntityDictionary(store.entity_dictionary())
        load_into_jieba(dictionary)
    everything = store.atom_texts()
    mine = [(a, d, t) for a, d, t, _ in everything if d in targets]
    pairs = near_duplicates(
        mine, [(a, d, t) for a, d, t, _ in everything], options.duplicate_threshold
    )
    store.link_duplicates(pairs)
    report.duplicates = len(pairs)
    texts = [t for _, d, t, kind in everything if d in targets and kind in CANDIDATE_KINDS]
    report.candidates = unknown_candidates(texts, dictionary)
    store.save_candidates(report.candidates)
    store.mark_derived(sorted(targets))


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


def _source_key(path: Path, split: SplitOptions, writer: Writer) -> str:
    """What decides what a file becomes: its bytes and how this run reads them."""
    digest = hashlib.sha256(repr((split, writer)).encode("utf-8"))
    try:
        digest.update(path.read_bytes())
    except OSError:
        return ""  # unreadable: parsed (and reported) like any other file
    return digest.hexdigest()


def _unchanged(
    units: list[_Unit],
    keys: dict[Path, str],
    store: IngestStore,
    link_hash: str,
    options: IngestOptions,
) -> dict[Path, int]:
    """Files whose document already holds exactly what parsing them now would write (same
    source key, linked against the same vocabulary): skipped without parsing. Returns each
    one's atom count."""
    ids = {
        unit.path: document_id(unit.collection, unit.relative, options.writer.namespace)
        for unit in units
    }
    states = store.document_states(list(ids.values()))
    found = {}
    for path, doc_id in ids.items():
        state = states.get(doc_id)
        if (
            state is not None
            and keys[path]
            and state.source_hash == keys[path]
            and state.link_hash == link_hash
            and not state.removed
        ):
            found[path] = len(state.atoms)
    return found


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


def _large(change: DocumentWrite, batch_atoms: int) -> bool:
    """Too much for one transaction: written in several (``write_large_document``)."""
    return (
        len(change.upsert) + len(change.delete) > batch_atoms
        or len(change.mentions) > 4 * batch_atoms
    )


def _flush(
    batch: list[tuple[Path, DocumentWrite | None]],
    store: IngestStore,
    writer: Writer,
    batch_atoms: int,
    on_file: Callable[[Path], None] | None,
) -> None:
    """Write a batch of documents in one transaction (a document too large for one in
    several), then report their files done."""
    changes = [change for _, change in batch if change is not None]
    small = [c for c in changes if not _large(c, batch_atoms)]
    if small:
        store.write_documents(small, writer)
    for change in changes:
        if _large(change, batch_atoms):
            store.write_large_document(change, writer, batch_atoms)
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
    if content_same and state is not None and state.link_hash == dictionary.fingerprint:
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
        declares=_declared(source.entities),
    )


def _declared(entities: list[Entity]) -> list[Entity]:
    """One entry per entity, with every alias and the first description the source gives."""
    merged: dict[str, Entity] = {}
    for entity in entities:
        old = merged.get(entity.id)
        if old is None:
            merged[entity.id] = entity
            continue
        merged[entity.id] = old.model_copy(
            update={
                "aliases": old.aliases + [a for a in entity.aliases if a not in old.aliases],
                "description": old.description or entity.description,
            }
        )
    return list(merged.values())


def _sync_removed(
    paths: list[Path],
    units: list[_Unit],
    report: IngestReport,
    store: IngestStore,
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
            for doc_id, path in store.collection_documents(
                collection, options.writer.namespace
            ).items()
            if (collection, path) not in present
        ]
        if gone:
            report.atoms_removed += store.remove_documents(
                gone, options.on_removed, options.writer.label
            )
            report.documents_removed += len(gone)
            logger.info("%s %d documents gone from %s", options.on_removed, len(gone), collection)
