"""The ``GraphStore`` interface: what the rest of SalesKG needs from the graph."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from kg.models import Atom, Document


@dataclass(frozen=True)
class StoredAtom:
    """An atom as read back from the graph, with the document it cites."""

    atom: Atom
    document_title: str
    document_path: str


@dataclass(frozen=True)
class WriteResult:
    """What one document's write changed."""

    written: int
    removed: int


class GraphStore(Protocol):
    """Persistence of documents, atoms and their embeddings."""

    def ensure_schema(self, dimensions: int) -> None: ...

    def document_hash(self, document_id: str) -> str | None: ...

    def write_document(self, document: Document, atoms: Sequence[Atom]) -> WriteResult: ...

    def atoms_needing_embedding(self) -> list[tuple[str, str, str]]: ...

    def set_embeddings(self, rows: Iterable[tuple[str, list[float]]]) -> None: ...

    def embeddings(self) -> list[tuple[str, int, list[float]]]: ...

    def atoms(self, ids: Sequence[str]) -> list[StoredAtom]: ...

    def counts(self) -> dict[str, int]: ...

    def close(self) -> None: ...
