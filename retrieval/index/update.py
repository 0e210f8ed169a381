"""Bring an index bundle in step with the graph in proportion to what changed (issue 15).

The graph keeps a change feed (``kg.store.ChangeFeed``): writers stamp ``updated_at`` on the
atoms and entities they change, and a ``ChangeToken`` of counts and newest stamps costs
milliseconds to read. An update reads the atoms stamped since the bundle's token (less a lag,
for transactions that stamped before and committed after), embeds those that lack a vector,
and gives the dense and lexical indexes and the graph snapshot a new generation with only
those atoms changed (``FaissIndex.with_changes``, ``LexicalIndex.with_changes``,
``GraphSnapshot.with_atoms``). Deletions show in the atom count; the entity layer and the
feedback priors are read again only when their counts or stamps moved.

An audit (``audit=True``, the periodic safety net) reads every atom and mention instead, and
passes on whatever differs from the bundle, including hand edits that stamped nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from kg.models import SEARCHABLE_STATUSES
from kg.store import ChangeFeed, ChangeToken
from retrieval.embedding.base import Embedder
from retrieval.index.bundle import IndexBundle
from retrieval.index.change_feed import LAG_S, FeedState, since_ms
from retrieval.index.sync import (
    OUTSIDE_EDITOR,
    SyncReport,
    access_meta,
    embed_pending,
    feedback_memory,
    feedback_priors,
    relink_changed_atoms,
)
from retrieval.retrievers.graph import GraphSnapshot
from retrieval.tokenize import tokenize

logger = logging.getLogger(__name__)

MERGE_SHARE = 0.1  # merge an index's segments when its delta or dead rows pass this share
MERGE_MIN = 2_000


WARM_UP_ID = "\x00warm-up"  # no atom has this id


def warm_up(store: ChangeFeed, model: str) -> None:
    """Run the reads of a change-feed update once, for an atom that does not exist, so that
    Neo4j plans them when a worker starts and not at the first edit after (a plan cost up to
    2 s on a loaded 2-core machine: docs/benchmarks.md, Scale)."""
    store.change_token(LAG_S)
    store.atom_stamps_since(2**62)
    store.atoms_to_relink([WARM_UP_ID])
    store.atoms_needing_embedding_among([WARM_UP_ID], model)
    store.changed_atoms([WARM_UP_ID], model)


@dataclass
class _Changes:
    rows: list[dict[str, Any]]  # changed atoms as read now
    deleted: set[str]


def update_index(
    store: ChangeFeed,
    embedder: Embedder,
    bundle: IndexBundle,
    *,
    audit: bool = False,
    on_batch: Callable[[int, int], None] | None = None,
) -> tuple[IndexBundle, SyncReport] | None:
    """The bundle brought in step with the graph, and what changed; the same bundle when
    nothing did; None when it cannot be updated (no feed state, or another encoder's index:
    a full sync is needed)."""
    feed = bundle.feed
    if feed is None or bundle.dense.model != embedder.name:
        return None
    token = store.change_token(LAG_S)
    if token == feed.token and not audit:
        return bundle, SyncReport(0, len(bundle.versions), 0, 0, 0)
    entity_changed = audit or token.entity_layer != feed.token.entity_layer
    window = store.atom_stamps_since(since_ms(feed.token))
    changed = {a for a, ms in window.items() if feed.stamps.get(a) != ms}
    graph_rows = store.snapshot() if audit else None
    if graph_rows is not None:
        changed |= _audit(bundle, feed, graph_rows.atoms, graph_rows.mentions)

    relinked = (
        relink_changed_atoms(store, bundle.texts)
        if entity_changed
        else relink_changed_atoms(
            store, bundle.texts, sorted(changed), dictionary=bundle.graph.dictionary()
        )
    )
    if relinked:  # relinking stamps the atoms it changed
        window = store.atom_stamps_since(since_ms(feed.token))
        changed |= {a for a, ms in window.items() if feed.stamps.get(a) != ms}
    pending = store.atoms_needing_embedding_among(sorted(changed), embedder.name)
    embed_pending(store, embedder, pending, on_batch)
    rows = store.changed_atoms(sorted(changed), embedder.name)
    edited = [
        {"id": r["id"], "title": bundle.texts[r["id"]][0], "text": bundle.texts[r["id"]][1]}
        for r in rows
        if r["id"] in bundle.texts
        and bundle.versions.get(r["id"]) == r["version"]
        and bundle.texts[r["id"]] != [r["title"], r["text"]]
    ]
    if edited:
        logger.info("%d atoms were edited in Neo4j outside the curators' queries", len(edited))
        store.record_outside_edits(edited, OUTSIDE_EDITOR)
        ids = [e["id"] for e in edited]
        embed_pending(store, embedder, store.atoms_needing_embedding_among(ids, embedder.name))
        again = {r["id"]: r for r in store.changed_atoms(ids, embedder.name)}
        rows = [again.get(r["id"], r) for r in rows]

    present = {r["id"] for r in rows}
    deleted = changed - present

    def known(atom_id: str) -> bool:
        return atom_id in bundle.versions or atom_id in feed.others

    # The atoms the graph should hold if nothing else was deleted (small sets only).
    expected = (
        len(bundle.versions)
        + len(feed.others)
        - sum(1 for a in deleted if known(a))
        + sum(1 for a in present if not known(a))
    )
    if graph_rows is not None:
        graph_ids: set[str] | None = {str(a["id"]) for a in graph_rows.atoms}
    elif token.atoms != expected:
        graph_ids = store.atom_ids()  # atoms were deleted (or created without a stamp)
    else:
        graph_ids = None
    if graph_ids is not None:
        every = set(bundle.versions) | feed.others
        deleted |= every - graph_ids
        unstamped = sorted(graph_ids - every - present)
        if unstamped:
            embed_pending(
                store, embedder, store.atoms_needing_embedding_among(unstamped, embedder.name)
            )
            rows += store.changed_atoms(unstamped, embedder.name)
    # The stamps read before the atoms were: an atom changed since then is read next time.
    stamps = {a: ms for a, ms in window.items() if ms >= since_ms(token)}
    quiet = (token.feedback, token.mentions) == (feed.token.feedback, feed.token.mentions)
    if not rows and not deleted and not entity_changed and quiet:
        return replace(bundle, feed=replace(feed, token=token, stamps=stamps)), SyncReport(
            0, len(bundle.versions), 0, 0, 0
        )
    updated, report = _apply(
        store, embedder, bundle, token, _Changes(rows, deleted), entity_changed
    )
    assert updated.feed is not None
    updated.feed.stamps = stamps
    return updated, replace(
        report, embedded=len(pending), edited_outside=len(edited), relinked=relinked
    )


def _audit(
    bundle: IndexBundle,
    feed: FeedState,
    atoms: list[dict[str, Any]],
    mentions: list[tuple[str, str]],
) -> set[str]:
    """Atoms whose state in the graph differs from the bundle's (or that it lacks or has too
    many of)."""
    by_atom: dict[str, set[str]] = {}
    for atom_id, entity_id in mentions:
        by_atom.setdefault(atom_id, set()).add(entity_id)
    indexed_mentions: dict[str, set[str]] = {}
    for entity_id, atom_ids in bundle.graph.mentions.items():
        for atom_id in atom_ids:
            indexed_mentions.setdefault(atom_id, set()).add(entity_id)
    differing = set()
    seen = set()
    for a in atoms:
        atom_id = str(a["id"])
        seen.add(atom_id)
        if atom_id in bundle.versions:
            if (
                bundle.versions[atom_id] != a["version"]
                or bundle.texts.get(atom_id) != [a["title"], a["text"]]
                or bundle.graph.atoms.get(atom_id) != access_meta(a)
                or bundle.graph.documents.get(atom_id) != str(a.get("document_id") or "")
                or indexed_mentions.get(atom_id, set()) != by_atom.get(atom_id, set())
                or bundle.graph.priors.get(atom_id) != feedback_priors([a]).get(atom_id)
            ):
                differing.add(atom_id)
        elif atom_id not in feed.others or a["status"] in SEARCHABLE_STATUSES:
            differing.add(atom_id)
    differing |= (set(bundle.versions) | feed.others) - seen
    if differing:
        logger.warning("the audit found %d atoms the change feed missed", len(differing))
    return differing


# One pass over a generation's changes, in the order they must happen (embed, dense, lexical,
# graph, feedback); splitting it would only pass the same eight locals around.
def _apply(  # noqa: C901
    store: ChangeFeed,
    embedder: Embedder,
    bundle: IndexBundle,
    token: ChangeToken,
    changes: _Changes,
    entity_changed: bool,
) -> tuple[IndexBundle, SyncReport]:
    assert bundle.feed is not None
    versions = dict(bundle.versions)
    texts = dict(bundle.texts)
    tokens = dict(bundle.tokens)
    mention_counts = dict(bundle.feed.mentions)
    others = set(bundle.feed.others)
    dense_up: dict[str, tuple[int, NDArray[Any]]] = {}
    lexical_up: dict[str, list[str]] = {}
    metas: dict[str, dict[str, str] | None] = {}
    mentions: dict[str, list[str]] = {}
    documents: dict[str, str] = {}
    removed: set[str] = set()
    added = changed = 0
    for row in changes.rows:
        atom_id = str(row["id"])
        mention_counts[atom_id] = len(row["mentions"])
        if row["status"] not in SEARCHABLE_STATUSES or row["embedding"] is None:
            others.add(atom_id)
            if atom_id in versions:
                removed.add(atom_id)
            continue
        others.discard(atom_id)
        text = [row["title"], row["text"]]
        if atom_id not in versions:
            added += 1
        elif versions[atom_id] != row["version"]:
            changed += 1
        versions[atom_id] = row["version"]
        dense_up[atom_id] = (row["version"], np.asarray(row["embedding"], dtype=np.float32))
        if texts.get(atom_id) != text or atom_id not in tokens:
            tokens[atom_id] = tokenize(f"{text[0]}\n{text[1]}")
        texts[atom_id] = text
        lexical_up[atom_id] = tokens[atom_id]
        metas[atom_id] = access_meta(row)
        mentions[atom_id] = sorted(set(row["mentions"]))
        documents[atom_id] = str(row.get("document_id") or "")
    for atom_id in changes.deleted:
        mention_counts.pop(atom_id, None)
        others.discard(atom_id)
        if atom_id in versions:
            removed.add(atom_id)
    for atom_id in removed:
        versions.pop(atom_id, None)
        texts.pop(atom_id, None)
        tokens.pop(atom_id, None)
        metas[atom_id] = None

    dense = bundle.dense.with_changes(dense_up, removed)
    if dense.needs_merge(MERGE_SHARE, MERGE_MIN):
        dense = dense.merged()
    lexical = bundle.lexical.with_changes(lexical_up, removed)
    if lexical.needs_merge(MERGE_SHARE, MERGE_MIN):
        lexical = lexical.merged(tokens)
    priors = feedback_priors(r for r in changes.rows if str(r["id"]) in versions)
    graph = bundle.graph.with_atoms(metas, mentions, documents, priors)
    if sum(mention_counts.values()) != token.mentions:
        # Links changed on atoms the feed did not show (a hand edit): read them all again.
        logger.info("mention counts differ from the graph's: reading every mention again")
        every = store.mentions()
        mention_counts = dict.fromkeys(mention_counts, 0)
        for atom_id, _ in every:
            if atom_id in mention_counts:
                mention_counts[atom_id] += 1
        rebuilt = GraphSnapshot.build([], [], [(a, e) for a, e in every if a in versions], {})
        graph = replace(graph, mentions=rebuilt.mentions, _by_atom=None)
    if entity_changed:
        rows = store.entity_layer()
        layer = GraphSnapshot.build(
            rows.entities,
            rows.relations,
            [],
            {},
            backing=rows.backing,
            relation_sources=rows.relation_sources,
        )
        # Only a layer that differs replaces the old one: what is built on it (the question
        # analyzer, the speech recognizer) is then kept (an ingest stamps entities it did not
        # change; an audit rereads them all).
        if _layer(layer) != _layer(graph):
            graph = graph.with_entity_layer(layer)
    memory = bundle.memory
    if token.feedback != bundle.feed.token.feedback:
        feedback = store.atom_feedback()
        graph = replace(
            graph,
            priors=feedback_priors(
                {"id": a, "feedback": f} for a, f in feedback.items() if a in versions
            ),
        )
        memory = feedback_memory(store, embedder, bundle.memory)
    feed = FeedState(token, {}, mention_counts, others)
    updated = IndexBundle(dense, lexical, graph, versions, tokens, texts, memory, "", feed)
    logger.info(
        "index updated from the change feed: %d atoms read, %d removed",
        len(changes.rows),
        len(removed),
    )
    return updated, SyncReport(0, len(versions), added, changed, len(removed))


def _layer(graph: GraphSnapshot) -> tuple[object, ...]:
    return (
        graph.names,
        graph.kinds,
        graph.aliases,
        graph.neighbours,
        graph.backing,
        graph.relation_sources,
    )
