"""``GraphStore`` on Neo4j 5 through the official Python driver."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

import neo4j
from neo4j import Driver, GraphDatabase
from neo4j.exceptions import AuthError, ServiceUnavailable

from kg import queries
from kg.errors import GraphAuthError, GraphUnavailableError
from kg.models import Atom, Document, SourceSpan
from kg.schema import ensure_schema
from kg.store import StoredAtom, WriteResult

logger = logging.getLogger(__name__)

WRITE_BATCH = 500


def connect(uri: str, user: str, password: str, *, timeout_s: float = 15.0) -> Driver:
    """Open a driver and check that the server answers and accepts the credentials."""
    driver = GraphDatabase.driver(
        uri,
        auth=(user, password),
        connection_timeout=timeout_s,
        # "property key does not exist" on a fresh graph is expected, not worth a warning.
        notifications_disabled_classifications=["UNRECOGNIZED"],
    )
    try:
        driver.verify_connectivity()
    except AuthError as exc:
        driver.close()
        raise GraphAuthError(
            f"Neo4j at {uri} rejected user {user!r}: the password is wrong. The local server "
            "keeps the password it was first started with; set NEO4J_PASSWORD to it."
        ) from exc
    except (ServiceUnavailable, OSError) as exc:
        driver.close()
        raise GraphUnavailableError(
            f"Neo4j at {uri} cannot be reached ({exc}). Start it with `skg neo4j start` "
            "or check NEO4J_URI."
        ) from exc
    return driver


class Neo4jGraphStore:
    """Documents, atoms and embeddings in Neo4j."""

    def __init__(self, driver: Driver, database: str = "neo4j") -> None:
        self._driver = driver
        self._database = database

    def _run(self, query: str, **params: Any) -> list[neo4j.Record]:
        try:
            records, _, _ = self._driver.execute_query(
                query, parameters_=params, database_=self._database
            )
        except ServiceUnavailable as exc:
            raise GraphUnavailableError(f"Neo4j is unreachable: {exc}") from exc
        return records

    def ensure_schema(self, dimensions: int) -> None:
        ensure_schema(self._driver, self._database, dimensions)

    def document_hash(self, document_id: str) -> str | None:
        records = self._run(queries.DOCUMENT_HASH, id=document_id)
        return records[0]["content_hash"] if records else None

    def write_document(self, document: Document, atoms: Sequence[Atom]) -> WriteResult:
        """Write a document and its atoms in one transaction; drop atoms it no longer has."""
        rows = [_atom_row(atom) for atom in atoms]

        def work(tx: neo4j.ManagedTransaction) -> int:
            tx.run(queries.UPSERT_DOCUMENT, doc=document.model_dump(mode="json"))
            for start in range(0, len(rows), WRITE_BATCH):
                tx.run(queries.UPSERT_ATOMS, atoms=rows[start : start + WRITE_BATCH])
            record = tx.run(
                queries.DELETE_STALE_ATOMS, doc_id=document.id, keep_ids=[a.id for a in atoms]
            ).single()
            return int(record["removed"]) if record else 0

        with self._driver.session(database=self._database) as session:
            removed = session.execute_write(work)
        return WriteResult(written=len(rows), removed=removed)

    def atoms_needing_embedding(self) -> list[tuple[str, str, str]]:
        return [
            (r["id"], r["title"], r["text"]) for r in self._run(queries.ATOMS_NEEDING_EMBEDDING)
        ]

    def set_embeddings(self, rows: Iterable[tuple[str, list[float]]]) -> None:
        batch: list[dict[str, Any]] = []
        for atom_id, vector in rows:
            batch.append({"id": atom_id, "embedding": vector})
            if len(batch) >= WRITE_BATCH:
                self._run(queries.SET_EMBEDDINGS, rows=batch)
                batch = []
        if batch:
            self._run(queries.SET_EMBEDDINGS, rows=batch)

    def embeddings(self) -> list[tuple[str, int, list[float]]]:
        return [(r["id"], r["version"], r["embedding"]) for r in self._run(queries.ALL_EMBEDDINGS)]

    def atoms(self, ids: Sequence[str]) -> list[StoredAtom]:
        by_id = {r["id"]: r for r in self._run(queries.ATOMS_BY_ID, ids=list(ids))}
        return [_stored_atom(by_id[i]) for i in ids if i in by_id]

    def counts(self) -> dict[str, int]:
        record = self._run(queries.COUNTS)[0]
        return {"atoms": record["atoms"], "documents": record["documents"]}

    def server_info(self) -> dict[str, str]:
        """Neo4j and APOC versions, for status pages."""
        info = {}
        for record in self._run(queries.COMPONENTS):
            info[record["name"]] = f"{record['versions'][0]} {record['edition']}"
        try:
            info["APOC"] = self._run(queries.APOC_VERSION)[0]["version"]
        except neo4j.exceptions.ClientError:
            info["APOC"] = "not installed"
        return info

    def close(self) -> None:
        self._driver.close()


def _atom_row(atom: Atom) -> dict[str, Any]:
    return {
        "id": atom.id,
        "document_id": atom.source.document_id,
        "type": atom.type.value,
        "title": atom.title,
        "text": atom.text,
        "section": atom.source.section,
        "start": atom.source.start,
        "end": atom.source.end,
        "status": atom.status,
        "visibility": atom.visibility,
        "content_hash": atom.content_hash,
    }


def _stored_atom(r: neo4j.Record) -> StoredAtom:
    atom = Atom(
        id=r["id"],
        type=r["type"],
        title=r["title"],
        text=r["text"],
        source=SourceSpan(
            document_id=r["document_id"], section=r["section"], start=r["start"], end=r["end"]
        ),
        status=r["status"],
        visibility=r["visibility"],
        version=r["version"],
        content_hash=r["content_hash"],
        updated_at=r["updated_at"].to_native(),
    )
    return StoredAtom(
        atom=atom, document_title=r["document_title"], document_path=r["document_path"]
    )
