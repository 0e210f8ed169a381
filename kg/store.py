"""The ``GraphStore`` interface: what the library packages need from the graph, by role.

``IngestStore`` (ingest), ``IndexStore`` (the index sync) and ``ServingStore`` (answering)
each name one caller's needs; ``GraphStore`` is their union, with set-up and close. The
service's own roles (keys, jobs, conversations, pushes, the knowledge routes) are in
``kg/service_store.py``. Implementations: ``kg/neo4j_store.py``; the unit tests' in-memory
fake (``tests/unit/fakes.py``). Both pass the same contract tests (``tests/contracts/``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from kg.access import Writer
from kg.models import Atom, AtomLinks, DictionaryEntry, Document, Entity, Relation, Relink


@dataclass(frozen=True)
class StoredAtom:
    """An atom as read back from the graph, with the document it cites."""

    atom: Atom
    document_title: str
    document_path: str

    def live_meta(self) -> dict[str, str]:
        """The fields access rules and filters read, as the graph holds them now."""
        return {
            "type": self.atom.type.value,
            "status": self.atom.status.value,
            "visibility": self.atom.visibility.value,
            "team": self.atom.team or "",
            "owner": self.atom.owner or "",
        }


@dataclass(frozen=True)
class DocumentState:
    """What the graph holds of a document: its hashes and its atoms' content hashes."""

    content_hash: str | None
    link_hash: str | None
    removed: bool
    atoms: dict[str, str] = field(default_factory=dict)
    curated: frozenset[str] = frozenset()  # atoms a curator has edited since ingest
    namespace: str | None = None
    derived: bool = True  # near-duplicates and candidates of its atoms are in the graph
    access: list[dict[str, str | None]] = field(default_factory=list)  # its atoms' visibility
    source_hash: str | None = None  # the file's bytes and how they were read, last written


@dataclass(frozen=True)
class DocumentWrite:
    """One document's changes; a batch of them is written in one transaction."""

    document: Document
    link_hash: str
    about: list[str]
    upsert: list[Atom]
    delete: list[str]
    mentions: dict[str, list[str]]
    # Curated atoms are never overwritten: a changed source waits on them for review, and
    # an atom whose section left the source is flagged instead of deleted.
    hold: list[Atom] = field(default_factory=list)
    orphaned: list[str] = field(default_factory=list)
    # The entities the document names, with the aliases and description it gives them
    # (``DECLARES``); written only when the document's content changed.
    declares: list[Entity] = field(default_factory=list)


@dataclass(frozen=True)
class GraphRows:
    """What retrieval keeps in memory: every atom's text and metadata, the entity layer, and
    which atom mentions which entity."""

    atoms: list[dict[str, Any]]  # id, title, text, type, status, visibility, team, owner,
    # version, document_id, and feedback: [[kind, distinct voters], ...]
    entities: list[DictionaryEntry]
    relations: list[tuple[str, str, str]]
    mentions: list[tuple[str, str]]
    # Provenance (who may see which name): (entity, document, aliases the document gives)
    # for documents about or declaring an entity, and the documents stating each relation.
    backing: list[tuple[str, str, list[str]]] = field(default_factory=list)
    relation_sources: dict[tuple[str, str, str], list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class ChangeToken:
    """A cheap summary of the graph that changes whenever a writer changes what search reads
    (the change feed, ``GraphStore.change_token``): counts and the newest stamps."""

    atoms: int
    mentions: int
    entities: int
    relations: int
    declares: int
    about: int
    feedback: int
    recent: int  # atoms stamped within the feed's lag window
    atom_ms: int | None  # newest atom stamp (epoch ms)
    entity_ms: int | None  # newest entity stamp

    @property
    def entity_layer(self) -> tuple[object, ...]:
        """The part that says whether entities, relations or their provenance changed."""
        return (self.entities, self.relations, self.declares, self.about, self.entity_ms)


class IngestStore(Protocol):
    """What ingest needs (``ingest/pipeline.py``): documents' states, their writes and
    removals, the entity layer, near-duplicates and candidates."""

    def document_states(self, ids: Sequence[str]) -> dict[str, DocumentState]: ...

    def write_documents(self, changes: Sequence[DocumentWrite], writer: Writer) -> None: ...

    def write_large_document(self, change: DocumentWrite, writer: Writer, batch: int) -> None: ...

    def mark_derived(self, ids: Sequence[str]) -> None: ...

    def set_source_hashes(self, hashes: dict[str, str]) -> None: ...

    def underived_documents(self) -> list[tuple[str, str]]: ...

    def collection_documents(
        self, collection: str, namespace: str | None = None
    ) -> dict[str, str]: ...

    def remove_documents(
        self, ids: Sequence[str], mode: Literal["delete", "deprecate"], by: str = "ingest"
    ) -> int: ...

    def upsert_entities(self, entities: Sequence[Entity]) -> None: ...

    def upsert_relations(self, relations: Sequence[Relation]) -> None: ...

    def entity_dictionary(self) -> list[DictionaryEntry]: ...

    def retired_atoms(self) -> frozenset[str]: ...

    def save_candidates(self, rows: Sequence[tuple[str, int, list[str]]]) -> None: ...

    def atom_texts(self) -> list[tuple[str, str, str, str]]: ...

    def link_duplicates(self, pairs: Sequence[tuple[str, str, float]]) -> None: ...


class IndexStore(Protocol):
    """What the index sync needs (``retrieval/index/sync.py``): embeddings, the in-memory
    snapshot, relinking of curated atoms, and feedback."""

    def atoms_needing_embedding(self, model: str) -> list[tuple[str, str, str]]: ...

    def set_embeddings(self, rows: Iterable[tuple[str, list[float]]], model: str) -> None: ...

    def embeddings(self, model: str) -> Iterable[tuple[str, int, list[float]]]:
        """(atom id, version, vector) of the searchable atoms embedded by ``model``, in id
        order; consume it as it comes (a million vectors as Python lists do not fit)."""
        ...

    def snapshot(self) -> GraphRows: ...

    def graph_fingerprint(self) -> str:
        """Changes whenever anything search depends on changes ("" when it cannot tell)."""
        ...

    def entity_dictionary(self) -> list[DictionaryEntry]: ...

    def underived_documents(self) -> list[tuple[str, str]]: ...

    def record_outside_edits(self, rows: Sequence[dict[str, str]], by: str) -> None: ...

    def atoms_to_relink(self, among: Sequence[str] | None = None) -> list[AtomLinks]: ...

    def relink(self, plans: Sequence[Relink]) -> None: ...

    def feedback_events(self) -> list[tuple[str, str, str, str]]: ...


class ServingStore(Protocol):
    """What answering a question needs: the chosen atoms with their documents."""

    def atoms(self, ids: Sequence[str]) -> list[StoredAtom]: ...


class GraphStore(IngestStore, IndexStore, ServingStore, Protocol):
    """Persistence of documents, atoms, entities, relations and embeddings: every role
    the library packages need, and what sets the graph up and closes it."""

    def ensure_schema(self, dimensions: int) -> None: ...

    def counts(self) -> dict[str, int]: ...

    def close(self) -> None: ...


@runtime_checkable
class ChangeFeed(GraphStore, Protocol):
    """A ``GraphStore`` that can say cheaply what changed (issue 15): the index follows the
    graph in proportion to the changes (``retrieval/index/update.py``)."""

    def change_token(self, lag_s: float) -> ChangeToken: ...

    def atom_stamps_since(self, since_ms: int) -> dict[str, int]: ...

    def changed_atoms(self, ids: Sequence[str], model: str) -> list[dict[str, Any]]: ...

    def atoms_needing_embedding_among(
        self, ids: Sequence[str], model: str
    ) -> list[tuple[str, str, str]]: ...

    def atom_ids(self) -> set[str]: ...

    def atom_feedback(self) -> dict[str, list[list[Any]]]: ...

    def entity_layer(self) -> GraphRows: ...

    def mentions(self) -> list[tuple[str, str]]: ...

    def atoms_to_relink(self, among: Sequence[str] | None = None) -> list[AtomLinks]: ...
