"""Deterministic in-memory fakes for unit tests of pure logic (never for integration tests)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from kg.models import Atom, Document
from kg.store import StoredAtom, WriteResult


class MemoryGraphStore:
    """Keeps documents and atoms in dicts; counts writes so tests can assert on them."""

    def __init__(self) -> None:
        self.documents: dict[str, Document] = {}
        self.atoms_by_id: dict[str, Atom] = {}
        self.vectors: dict[str, list[float]] = {}
        self.writes = 0

    def ensure_schema(self, dimensions: int) -> None:
        pass

    def document_hash(self, document_id: str) -> str | None:
        doc = self.documents.get(document_id)
        return doc.content_hash if doc else None

    def write_document(self, document: Document, atoms: Sequence[Atom]) -> WriteResult:
        self.writes += 1
        self.documents[document.id] = document
        stale = [
            i
            for i, a in self.atoms_by_id.items()
            if a.source.document_id == document.id and i not in {x.id for x in atoms}
        ]
        for atom_id in stale:
            del self.atoms_by_id[atom_id]
            self.vectors.pop(atom_id, None)
        for atom in atoms:
            old = self.atoms_by_id.get(atom.id)
            if old is None or old.content_hash != atom.content_hash:
                self.vectors.pop(atom.id, None)
            self.atoms_by_id[atom.id] = atom
        return WriteResult(written=len(atoms), removed=len(stale))

    def atoms_needing_embedding(self) -> list[tuple[str, str, str]]:
        return [
            (a.id, a.title, a.text) for a in self.atoms_by_id.values() if a.id not in self.vectors
        ]

    def set_embeddings(self, rows: Iterable[tuple[str, list[float]]]) -> None:
        self.vectors.update(rows)

    def embeddings(self) -> list[tuple[str, int, list[float]]]:
        return [(i, self.atoms_by_id[i].version, v) for i, v in sorted(self.vectors.items())]

    def atoms(self, ids: Sequence[str]) -> list[StoredAtom]:
        out = []
        for i in ids:
            if i in self.atoms_by_id:
                doc = self.documents[self.atoms_by_id[i].source.document_id]
                out.append(StoredAtom(self.atoms_by_id[i], doc.title, doc.path))
        return out

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
