"""Deterministic in-memory fakes for unit tests of pure logic (never for integration tests)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

import numpy as np

from kg.access import Writer
from kg.errors import PermissionDeniedError
from kg.models import (
    Atom,
    AtomLinks,
    CurationStatus,
    DictionaryEntry,
    Document,
    Entity,
    Relation,
    Relink,
)
from kg.store import DocumentState, DocumentWrite, GraphRows, StoredAtom


class MemoryGraphStore:
    """Keeps the graph in dicts; counts document writes so tests can assert on them."""

    def __init__(self) -> None:
        self.documents: dict[str, Document] = {}
        self.doc_state: dict[str, tuple[str, str, bool]] = {}
        self.atoms_by_id: dict[str, Atom] = {}
        self.vectors: dict[str, list[float]] = {}
        self.entities: dict[str, Entity] = {}
        self.relations: set[tuple[str, str, str, str]] = set()
        self.mentions: dict[str, list[str]] = {}
        self.duplicates: list[tuple[str, str, float]] = []
        self.candidates: list[tuple[str, int, list[str]]] = []
        self.writes = 0
        self.underived: set[str] = set()
        self.large_writes = 0
        self.feedback: dict[str, list[list[object]]] = {}  # atom id -> [[kind, voters]]

    def ensure_schema(self, dimensions: int) -> None:
        pass

    def document_states(self, ids: Sequence[str]) -> dict[str, DocumentState]:
        states = {}
        for document_id in ids:
            if document_id in self.doc_state:
                content, link, removed = self.doc_state[document_id]
                atoms = {
                    a.id: a.content_hash
                    for a in self.atoms_by_id.values()
                    if a.source.document_id == document_id
                }
                states[document_id] = DocumentState(
                    content,
                    link,
                    removed,
                    atoms,
                    namespace=self.documents[document_id].namespace,
                    derived=document_id not in self.underived,
                    source_hash=self.documents[document_id].source_hash,
                    access=[
                        {"visibility": a.visibility.value, "team": a.team, "owner": a.owner}
                        for a in self.atoms_by_id.values()
                        if a.source.document_id == document_id
                    ],
                )
        return states

    def write_documents(self, changes: Sequence[DocumentWrite], writer: Writer) -> None:
        for change in changes:
            old = self.documents.get(change.document.id)
            if old is not None and old.namespace != change.document.namespace:
                raise PermissionDeniedError(f"{change.document.path}: another namespace")
        self.writes += 1
        for change in changes:
            self._write(change)
            self.underived.add(change.document.id)

    def write_large_document(self, change: DocumentWrite, writer: Writer, batch: int) -> None:
        self.large_writes += 1
        self.write_documents([change], writer)

    def mark_derived(self, ids: Sequence[str]) -> None:
        self.underived -= set(ids)

    def set_source_hashes(self, hashes: dict[str, str]) -> None:
        for doc_id, digest in hashes.items():
            self.documents[doc_id] = self.documents[doc_id].model_copy(
                update={"source_hash": digest}
            )

    def underived_documents(self) -> list[tuple[str, str]]:
        return [(i, self.documents[i].path) for i in sorted(self.underived)]

    def _write(self, change: DocumentWrite) -> None:
        doc = change.document
        self.documents[doc.id] = doc
        self.doc_state[doc.id] = (doc.content_hash, change.link_hash, False)
        for atom_id in change.delete:
            self.atoms_by_id.pop(atom_id, None)
            self.vectors.pop(atom_id, None)
        for atom in change.upsert:
            old = self.atoms_by_id.get(atom.id)
            version = old.version + 1 if old else 1
            self.atoms_by_id[atom.id] = atom.model_copy(update={"version": version})
            self.vectors.pop(atom.id, None)
        self.mentions.update(change.mentions)

    def collection_documents(self, collection: str, namespace: str | None = None) -> dict[str, str]:
        return {
            d.id: d.path
            for d in self.documents.values()
            if d.collection == collection
            and d.namespace == namespace
            and not self.doc_state[d.id][2]
        }

    def remove_documents(
        self, ids: Sequence[str], mode: Literal["delete", "deprecate"], by: str = "ingest"
    ) -> int:
        affected = [a for a in self.atoms_by_id.values() if a.source.document_id in ids]
        for atom in affected:
            if mode == "delete":
                del self.atoms_by_id[atom.id]
                self.vectors.pop(atom.id, None)
            else:
                atom.status = CurationStatus.DEPRECATED
        for doc_id in ids:
            if mode == "delete":
                del self.documents[doc_id]
                del self.doc_state[doc_id]
            else:
                content, link, _ = self.doc_state[doc_id]
                self.doc_state[doc_id] = (content, link, True)
        return len(affected)

    def upsert_entities(self, entities: Sequence[Entity]) -> None:
        for entity in entities:
            old = self.entities.get(entity.id)
            aliases = (old.aliases if old else []) + [
                a for a in entity.aliases if not old or a not in old.aliases
            ]
            self.entities[entity.id] = entity.model_copy(update={"aliases": aliases})

    def upsert_relations(self, relations: Sequence[Relation]) -> None:
        self.relations |= {(r.source, r.type.value, r.target, r.name) for r in relations}

    def entity_dictionary(self) -> list[DictionaryEntry]:
        return [
            DictionaryEntry(e.id, e.name, list(e.aliases), e.kind.value)
            for e in self.entities.values()
        ]

    def save_candidates(self, rows: Sequence[tuple[str, int, list[str]]]) -> None:
        self.candidates = list(rows)

    def atom_texts(self) -> list[tuple[str, str, str, str]]:
        return [
            (a.id, a.source.document_id, a.text, self.documents[a.source.document_id].kind.value)
            for a in self.atoms_by_id.values()
        ]

    def link_duplicates(self, pairs: Sequence[tuple[str, str, float]]) -> None:
        self.duplicates += pairs

    def atoms_needing_embedding(self, model: str) -> list[tuple[str, str, str]]:
        return [
            (a.id, a.title, a.text) for a in self.atoms_by_id.values() if a.id not in self.vectors
        ]

    def set_embeddings(self, rows: Iterable[tuple[str, list[float]]], model: str) -> None:
        self.vectors.update(rows)

    def embeddings(self, model: str) -> list[tuple[str, int, list[float]]]:
        return [
            (i, self.atoms_by_id[i].version, v)
            for i, v in sorted(self.vectors.items())
            if self.atoms_by_id[i].status is not CurationStatus.DEPRECATED
        ]

    def atoms(self, ids: Sequence[str]) -> list[StoredAtom]:
        out = []
        for i in ids:
            if i in self.atoms_by_id:
                doc = self.documents[self.atoms_by_id[i].source.document_id]
                out.append(StoredAtom(self.atoms_by_id[i], doc.title, doc.path))
        return out

    def retired_atoms(self) -> frozenset[str]:
        return frozenset()

    def feedback_events(self) -> list[tuple[str, str, str, str]]:
        return []

    def record_outside_edits(self, rows: Sequence[dict[str, str]], by: str) -> None:
        for row in rows:
            atom = self.atoms_by_id[row["id"]]
            atom.version += 1
            self.vectors.pop(atom.id, None)

    def atoms_to_relink(self, among: Sequence[str] | None = None) -> list[AtomLinks]:
        return []  # the fake keeps no record of who changed an atom

    def relink(self, plans: Sequence[Relink]) -> None:
        pass

    def snapshot(self) -> GraphRows:
        return GraphRows(
            atoms=[
                {
                    "id": a.id,
                    "title": a.title,
                    "text": a.text,
                    "type": a.type.value,
                    "status": a.status.value,
                    "visibility": a.visibility.value,
                    "team": a.team,
                    "owner": a.owner,
                    "version": a.version,
                    "feedback": self.feedback.get(a.id, []),
                    "document_id": a.source.document_id,
                }
                for a in self.atoms_by_id.values()
            ],
            entities=self.entity_dictionary(),
            relations=[(s, name, t) for s, _, t, name in self.relations],
            mentions=[(a, e) for a, ids in self.mentions.items() for e in ids],
        )

    def graph_fingerprint(self) -> str:
        return ""  # cannot tell: every sync rebuilds

    def counts(self) -> dict[str, int]:
        return {"atoms": len(self.atoms_by_id), "documents": len(self.documents)}

    def close(self) -> None:
        pass


class HashEmbedder:
    """Bag of characters hashed into a few dimensions: similar texts get similar vectors."""

    name = "hash"
    dimensions = 64

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        for row, text in enumerate(texts):
            for char in text:
                out[row, hash(char) % self.dimensions] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-9)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts)
