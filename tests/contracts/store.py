"""The ``GraphStore`` contract: what ingest, the index sync and serving rely on.

A test class provides a ``store`` fixture. Every case works on documents, atoms and entities
of its own (fresh ids), so a shared Neo4j graph may hold anything else.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import pytest

from kg.access import Writer
from kg.models import Atom, AtomType, CurationStatus, Document, DocumentKind, Entity, SourceSpan
from kg.store import DocumentWrite, GraphStore

DIMENSIONS = 384  # the served encoder's; Neo4j's vector index is created for it
MODEL = "contract-model"


def _id(prefix: str) -> str:
    return f"{prefix}-contract-{uuid.uuid4().hex[:10]}"


def _document(doc_id: str, collection: str, content_hash: str = "c1") -> Document:
    return Document(
        id=doc_id,
        path=f"{doc_id}.md",
        collection=collection,
        title=f"title of {doc_id}",
        kind=DocumentKind.CASE_STUDY,
        content_hash=content_hash,
    )


def _atom(atom_id: str, doc_id: str, text: str = "热失控防护方案的要点。") -> Atom:
    return Atom(
        id=atom_id,
        type=AtomType.SOLUTION_POINT,
        title=f"title of {atom_id}",
        text=text,
        source=SourceSpan(document_id=doc_id, section="方案", start=0, end=len(text)),
    )


def _change(
    document: Document,
    upsert: Sequence[Atom],
    delete: Sequence[str] = (),
    link_hash: str = "l1",
) -> DocumentWrite:
    return DocumentWrite(
        document=document,
        link_hash=link_hash,
        about=[],
        upsert=list(upsert),
        delete=list(delete),
        mentions={},
    )


def _vector(seed: int) -> list[float]:
    vector = [0.0] * DIMENSIONS
    vector[seed % DIMENSIONS] = 1.0
    return vector


class GraphStoreContract:
    """Cases every ``GraphStore`` passes."""

    @pytest.fixture
    def written(self, store: GraphStore) -> tuple[Document, list[Atom]]:
        """One document of two atoms, written by the operator."""
        doc = _document(_id("doc"), _id("collection"))
        atoms = [_atom(_id("atom"), doc.id), _atom(_id("atom"), doc.id, "客户嫌贵怎么办的回答。")]
        store.write_documents([_change(doc, atoms)], Writer.operator())
        return doc, atoms

    def test_a_written_document_reports_its_hashes_and_atoms(self, store, written):
        doc, atoms = written
        state = store.document_states([doc.id, _id("missing")])
        assert list(state) == [doc.id], "unknown documents are absent, not empty"
        assert state[doc.id].content_hash == "c1"
        assert state[doc.id].link_hash == "l1"
        assert not state[doc.id].removed
        assert state[doc.id].atoms == {a.id: a.content_hash for a in atoms}

    def test_atoms_come_back_in_the_order_asked_with_their_document(self, store, written):
        doc, atoms = written
        asked = [atoms[1].id, _id("missing"), atoms[0].id]
        stored = store.atoms(asked)
        assert [s.atom.id for s in stored] == [atoms[1].id, atoms[0].id]
        assert stored[0].atom.text == atoms[1].text
        assert stored[0].atom.type is AtomType.SOLUTION_POINT
        assert (stored[0].document_title, stored[0].document_path) == (doc.title, doc.path)
        assert stored[0].live_meta()["status"] == CurationStatus.DRAFT.value

    def test_a_changed_atom_gets_a_new_version_and_loses_its_embedding(self, store, written):
        doc, atoms = written
        store.set_embeddings([(a.id, _vector(i)) for i, a in enumerate(atoms)], MODEL)
        before = {s.atom.id: s.atom.version for s in store.atoms([a.id for a in atoms])}
        changed = _atom(atoms[0].id, doc.id, "热失控防护方案的要点，已更新。")
        store.write_documents(
            [_change(doc.model_copy(update={"content_hash": "c2"}), [changed])], Writer.operator()
        )
        after = {s.atom.id: s.atom.version for s in store.atoms([a.id for a in atoms])}
        assert after[atoms[0].id] == before[atoms[0].id] + 1
        assert after[atoms[1].id] == before[atoms[1].id]
        needing = {row[0] for row in store.atoms_needing_embedding(MODEL)}
        assert atoms[0].id in needing and atoms[1].id not in needing

    def test_embeddings_are_kept_per_atom_with_its_version(self, store, written):
        _, atoms = written
        store.set_embeddings([(atoms[0].id, _vector(3))], MODEL)
        rows = {atom_id: (version, vector) for atom_id, version, vector in store.embeddings(MODEL)}
        assert rows[atoms[0].id] == (1, pytest.approx(_vector(3)))
        assert atoms[1].id not in rows
        assert atoms[1].id in {row[0] for row in store.atoms_needing_embedding(MODEL)}

    def test_a_deleted_atom_is_gone(self, store, written):
        doc, atoms = written
        store.write_documents([_change(doc, [], delete=[atoms[0].id])], Writer.operator())
        assert [s.atom.id for s in store.atoms([a.id for a in atoms])] == [atoms[1].id]
        assert set(store.document_states([doc.id])[doc.id].atoms) == {atoms[1].id}

    def test_deleting_a_document_removes_it_and_its_atoms(self, store, written):
        doc, atoms = written
        assert store.remove_documents([doc.id], "delete") == len(atoms)
        assert store.document_states([doc.id]) == {}
        assert store.atoms([a.id for a in atoms]) == []

    def test_deprecating_a_document_keeps_its_atoms_out_of_search(self, store, written):
        doc, atoms = written
        store.set_embeddings([(atoms[0].id, _vector(5))], MODEL)
        assert store.remove_documents([doc.id], "deprecate") == len(atoms)
        assert store.document_states([doc.id])[doc.id].removed
        assert {s.atom.status for s in store.atoms([a.id for a in atoms])} == {
            CurationStatus.DEPRECATED
        }
        assert atoms[0].id not in {row[0] for row in store.embeddings(MODEL)}
        assert doc.id not in store.collection_documents(doc.collection)

    def test_collections_list_their_documents_per_namespace(self, store, written):
        doc, _ = written
        assert store.collection_documents(doc.collection) == {doc.id: doc.path}
        assert store.collection_documents(doc.collection, "team:contract") == {}

    def test_written_documents_wait_to_be_derived(self, store, written):
        doc, _ = written
        assert doc.id in {doc_id for doc_id, _ in store.underived_documents()}
        store.mark_derived([doc.id])
        assert doc.id not in {doc_id for doc_id, _ in store.underived_documents()}
        assert store.document_states([doc.id])[doc.id].derived

    def test_source_hashes_are_kept(self, store, written):
        doc, _ = written
        store.set_source_hashes({doc.id: "s1"})
        assert store.document_states([doc.id])[doc.id].source_hash == "s1"

    def test_entities_merge_their_aliases(self, store):
        name = _id("客户")
        store.upsert_entities([Entity(kind="Customer", name=name, aliases=["甲"])])
        store.upsert_entities([Entity(kind="Customer", name=name, aliases=["乙"])])
        [entry] = [e for e in store.entity_dictionary() if e.name == name]
        assert entry.kind == "Customer"
        assert set(entry.aliases) == {"甲", "乙"}
        assert entry.id == Entity(kind="Customer", name=name).id

    def test_the_snapshot_holds_every_atom_with_its_access_fields(self, store, written):
        doc, atoms = written
        rows = {row["id"]: row for row in store.snapshot().atoms}
        for atom in atoms:
            row = rows[atom.id]
            assert (row["text"], row["status"], row["visibility"]) == (
                atom.text,
                "draft",
                "public",
            )
            assert row["document_id"] == doc.id and row["version"] == 1

    def test_atom_texts_name_their_document_and_its_kind(self, store, written):
        doc, atoms = written
        rows = {row[0]: row for row in store.atom_texts()}
        assert rows[atoms[0].id] == (atoms[0].id, doc.id, atoms[0].text, "case_study")

    def test_counts_include_the_atoms_and_documents(self, store, written):
        counts = store.counts()
        assert counts["atoms"] >= 2 and counts["documents"] >= 1
