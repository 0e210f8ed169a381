"""Keep the search indexes in step with the graph, incrementally, and check for drift.

Embeddings live on the atoms in Neo4j, so only new or changed atoms are embedded; FAISS is then
rebuilt from the stored vectors, BM25 from cached tokens (only new or changed atoms are
tokenised again), and the graph snapshot from the graph. Deprecated atoms leave the indexes.
Everything can be rebuilt from Neo4j alone (``rebuild=True``), without re-embedding.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from kg.dictionary import EntityDictionary
from kg.errors import IndexNotReadyError
from kg.models import SEARCHABLE_STATUSES, atom_problems
from kg.relink import plan_relinks
from kg.store import ChangeFeed, IndexStore
from retrieval.embedding.base import Embedder
from retrieval.feedback import FeedbackCounts, FeedbackMemory, memory_from_events, prior
from retrieval.index.bundle import IndexBundle
from retrieval.index.change_feed import LAG_S, feed_state, since_ms
from retrieval.index.lock import index_lock
from retrieval.retrievers.dense import FaissIndex
from retrieval.retrievers.graph import META_FIELDS, GraphSnapshot
from retrieval.retrievers.lexical import LexicalIndex
from retrieval.tokenize import tokenize

logger = logging.getLogger(__name__)

EMBED_BATCH = 64
OUTSIDE_EDITOR = "neo4j（未经 curation 查询）"


@dataclass(frozen=True)
class SyncReport:
    embedded: int
    indexed: int
    added: int
    changed: int
    removed: int
    edited_outside: int = 0  # texts changed in Neo4j without a version bump
    relinked: int = 0  # atoms people changed whose entity links followed the change


@dataclass(frozen=True)
class DriftReport:
    missing: list[str]  # searchable in the graph, absent from the index
    stale: list[str]  # indexed at an older version
    extra: list[str]  # indexed, but deleted or deprecated in the graph
    # Atoms with missing or invalid fields (served fail-closed until a curator fixes them).
    invalid: list[tuple[str, list[str]]] = field(default_factory=list)
    # Documents whose derived data (near-duplicates, candidates) an interrupted ingest left
    # out; the next ingest completes them.
    underived: list[str] = field(default_factory=list)

    @property
    def in_sync(self) -> bool:
        return not (self.missing or self.stale or self.extra)

    @property
    def sound(self) -> bool:
        return self.in_sync and not (self.invalid or self.underived)


def sync_index(
    store: IndexStore,
    embedder: Embedder,
    index_dir: Path,
    *,
    rebuild: bool = False,
    on_batch: Callable[[int, int], None] | None = None,
) -> SyncReport:
    """Embed what lacks a vector, then write dense, lexical and graph indexes from the graph.

    A title or text edited in Neo4j without a version bump (a curator's ad-hoc Cypher) is
    found by comparing with the text last indexed: the old text is kept as an ``AtomVersion``,
    the version goes up and the atom is embedded again.
    """
    with index_lock(index_dir, exclusive=True):
        return _sync(store, embedder, index_dir, rebuild, on_batch)


def _sync(
    store: IndexStore,
    embedder: Embedder,
    index_dir: Path,
    rebuild: bool,
    on_batch: Callable[[int, int], None] | None,
) -> SyncReport:
    previous = None
    if not rebuild and IndexBundle.exists(index_dir):
        try:
            previous = IndexBundle.load(index_dir, lock=False)
        except IndexNotReadyError as exc:  # an earlier version's files: build afresh
            logger.warning("rebuilding the index: %s", exc)
    # Read before anything else: a change made while this sync runs makes the next one run.
    fingerprint = store.graph_fingerprint()
    token = store.change_token(LAG_S) if isinstance(store, ChangeFeed) else None
    stamps = (
        store.atom_stamps_since(since_ms(token)) if isinstance(store, ChangeFeed) and token else {}
    )
    if (
        previous is not None
        and fingerprint
        and previous.fingerprint == fingerprint
        and previous.dense.model == embedder.name
        # The same graph can lack its vectors (restored from a dump, re-ingested after a wipe).
        and not store.atoms_needing_embedding(embedder.name)
    ):
        logger.info("index already in step with the graph")
        return SyncReport(0, len(previous.versions), 0, 0, 0)
    old_versions = previous.versions if previous else {}
    old_texts = previous.texts if previous else {}
    graph_rows = store.snapshot()
    edited = [
        {"id": a["id"], "title": old_texts[a["id"]][0], "text": old_texts[a["id"]][1]}
        for a in graph_rows.atoms
        if a["id"] in old_texts
        and old_versions.get(a["id"]) == a["version"]
        and old_texts[a["id"]] != [a["title"], a["text"]]
    ]
    if edited:
        logger.info("%d atoms were edited in Neo4j outside the curators' queries", len(edited))
        store.record_outside_edits(edited, OUTSIDE_EDITOR)
    relinked = relink_changed_atoms(store, old_texts)
    if edited or relinked:
        graph_rows = store.snapshot()

    pending = store.atoms_needing_embedding(embedder.name)
    embed_pending(store, embedder, pending, on_batch)

    versions, vectors = read_vectors(store.embeddings(embedder.name), embedder.dimensions)
    dense = FaissIndex.build(list(versions), list(versions.values()), vectors, embedder.name)

    atoms = {str(a["id"]): a for a in graph_rows.atoms if a["id"] in versions}
    texts = {atom_id: [a["title"], a["text"]] for atom_id, a in atoms.items()}
    old_tokens = previous.tokens if previous else {}
    pool: dict[str, str] = {}  # one string per distinct token: a million atoms' own took 4 GB
    tokens = {
        atom_id: (
            old_tokens[atom_id]
            if old_texts.get(atom_id) == texts[atom_id] and atom_id in old_tokens
            else [
                pool.setdefault(t, t) for t in tokenize(f"{texts[atom_id][0]}\n{texts[atom_id][1]}")
            ]
        )
        for atom_id in versions
        if atom_id in texts
    }
    lexical = LexicalIndex.from_tokens(list(tokens), list(tokens.values()))
    graph = GraphSnapshot.build(
        graph_rows.entities,
        graph_rows.relations,
        [(a, e) for a, e in graph_rows.mentions if a in versions],
        {atom_id: access_meta(a) for atom_id, a in atoms.items()},
        documents={atom_id: str(a.get("document_id") or "") for atom_id, a in atoms.items()},
        backing=graph_rows.backing,
        relation_sources=graph_rows.relation_sources,
    )
    graph.priors = feedback_priors(atoms.values())
    # Question vectors of an earlier encoder must not meet this one's: forget them.
    same_encoder = previous is not None and previous.dense.model == embedder.name
    earlier = previous.memory if previous is not None and same_encoder else None
    memory = feedback_memory(store, embedder, earlier)
    feed = (
        feed_state(
            token,
            stamps,
            graph_rows.mentions,
            {str(a["id"]) for a in graph_rows.atoms},
            set(versions),
        )
        if token is not None
        else None
    )
    IndexBundle(dense, lexical, graph, versions, tokens, texts, memory, fingerprint, feed).save(
        index_dir
    )
    added = sum(1 for a in versions if a not in old_versions)
    changed = sum(1 for a, v in versions.items() if a in old_versions and old_versions[a] != v)
    removed = sum(1 for a in old_versions if a not in versions)
    logger.info("index synced: %d embedded, %d indexed", len(pending), len(versions))
    return SyncReport(len(pending), len(versions), added, changed, removed, len(edited), relinked)


def read_vectors(
    rows: Iterable[tuple[str, int, list[float]]], dimensions: int, chunk: int = 5_000
) -> tuple[dict[str, int], NDArray[np.float32]]:
    """Versions by atom id and the vectors as one float32 matrix, in the rows' order; the
    Python lists are turned into arrays a chunk at a time."""
    versions: dict[str, int] = {}
    chunks: list[NDArray[np.float32]] = []
    pending: list[list[float]] = []
    for atom_id, version, vector in rows:
        versions[atom_id] = version
        pending.append(vector)
        if len(pending) == chunk:
            chunks.append(np.asarray(pending, dtype=np.float32))
            pending = []
    if pending or not chunks:
        chunks.append(np.asarray(pending, dtype=np.float32).reshape(-1, dimensions))
    return versions, np.concatenate(chunks) if len(chunks) > 1 else chunks[0]


def access_meta(atom: dict[str, Any]) -> dict[str, str]:
    """What filters and access rules read of an atom; one a hand edit broke is private to its
    owner (``kg.models.atom_problems``), as every read of it from the graph treats it."""
    meta = {k: str(atom[k] or "") for k in META_FIELDS}
    if atom_problems(atom):
        meta["visibility"] = "private"
    return meta


def embed_pending(
    store: IndexStore,
    embedder: Embedder,
    pending: list[tuple[str, str, str]],
    on_batch: Callable[[int, int], None] | None = None,
) -> None:
    """Embed atoms in batches of similar length (padding is most of the work otherwise) and
    store each batch's vectors while the next batch is embedded: the encoder and Neo4j work
    at the same time."""
    pending = sorted(pending, key=lambda row: len(row[2]))
    if on_batch:
        on_batch(0, len(pending))
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-vectors") as writer:
        writing: Future[None] | None = None
        for start in range(0, len(pending), EMBED_BATCH):
            batch = pending[start : start + EMBED_BATCH]
            vectors = embedder.embed_passages([text for _, _, text in batch])
            rows = [
                (atom_id, v.tolist()) for (atom_id, _, _), v in zip(batch, vectors, strict=True)
            ]
            if writing is not None:
                writing.result()  # one batch in flight; its errors surface here
            writing = writer.submit(store.set_embeddings, rows, embedder.name)
            if on_batch:
                on_batch(min(start + EMBED_BATCH, len(pending)), len(pending))
        if writing is not None:
            writing.result()


def relink_changed_atoms(
    store: IndexStore,
    earlier_texts: dict[str, list[str]],
    among: list[str] | None = None,
    dictionary: EntityDictionary | None = None,
) -> int:
    """Links of atoms people changed follow their text and new aliases (``kg.relink``); only
    those ``among`` these ids when given (a change-feed update whose entities did not change,
    which passes the index's ``dictionary`` of them too).

    Returns how many atoms gained or lost a link."""
    if among is not None and not among:
        return 0
    atoms = store.atoms_to_relink() if among is None else store.atoms_to_relink(among)
    if not atoms:
        return 0
    dictionary = dictionary or EntityDictionary(store.entity_dictionary())
    plans = plan_relinks(atoms, dictionary, earlier_texts)
    store.relink(plans)
    changed = sum(1 for p in plans if p.add or p.remove)
    if changed:
        logger.info("%d edited atoms relinked to the entities their text names", changed)
    return changed


def feedback_memory(
    store: IndexStore, embedder: Embedder, previous: FeedbackMemory | None
) -> FeedbackMemory:
    """Votes on answers, by question; questions seen before keep their vectors."""
    known = dict(zip(previous.questions, previous.vectors, strict=True)) if previous else {}

    def embed(questions: list[str]) -> NDArray[Any]:
        new = [q for q in questions if q not in known]
        if new:
            known.update(zip(new, embedder.embed_queries(new), strict=True))
        return np.asarray([known[q] for q in questions], dtype=np.float32)

    return memory_from_events(store.feedback_events(), embed)


def feedback_priors(atoms: Iterable[dict[str, Any]]) -> dict[str, float]:
    """Each atom's feedback as a ranking prior (only atoms that have feedback)."""
    priors = {}
    for atom in atoms:
        if atom.get("feedback"):
            counts = FeedbackCounts.from_mapping(dict(atom["feedback"]))
            priors[str(atom["id"])] = prior(counts)
    return priors


def check_drift(store: IndexStore, index_dir: Path) -> DriftReport:
    """Compare what the index holds with what the graph says is searchable (with vectors of
    the encoder the index was built with)."""
    bundle = IndexBundle.load(index_dir)
    graph_rows = store.snapshot()
    searchable = {a["id"] for a in graph_rows.atoms if a["status"] in SEARCHABLE_STATUSES}
    current = {atom_id: version for atom_id, version, _ in store.embeddings(bundle.dense.model)}
    indexed = bundle.versions
    return DriftReport(
        missing=sorted(searchable - indexed.keys()),
        stale=sorted(a for a, v in indexed.items() if a in current and current[a] != v),
        extra=sorted(indexed.keys() - searchable),
        invalid=sorted(
            (str(a["id"]), problems) for a in graph_rows.atoms if (problems := atom_problems(a))
        ),
        underived=sorted(path for _, path in store.underived_documents()),
    )
