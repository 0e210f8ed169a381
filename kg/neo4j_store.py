"""``GraphStore`` on Neo4j 5 through the official Python driver."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any, Literal

import neo4j
from neo4j import Driver, GraphDatabase
from neo4j.exceptions import AuthError, ServiceUnavailable, SessionExpired

from kg import queries
from kg.contributions import UNATTRIBUTED, Contribution, rank
from kg.errors import GraphAuthError, GraphUnavailableError
from kg.models import Atom, Entity, EntityKind, Relation, RelationType, SourceSpan
from kg.relink import AtomLinks, Relink
from kg.schema import ensure_schema
from kg.store import DictionaryEntry, DocumentState, DocumentWrite, GraphRows, StoredAtom

logger = logging.getLogger(__name__)

WRITE_BATCH = 500


def connect(
    uri: str, user: str, password: str, *, timeout_s: float = 15.0, retry_s: float = 30.0
) -> Driver:
    """Open a driver and check that the server answers and accepts the credentials.

    ``retry_s`` bounds how long a statement is retried while Neo4j is unreachable; the API keeps
    it short so that callers get a 503 quickly instead of a hanging request.
    """
    driver = GraphDatabase.driver(
        uri,
        auth=(user, password),
        connection_timeout=timeout_s,
        connection_acquisition_timeout=timeout_s,
        max_transaction_retry_time=retry_s,
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

    def run(self, query: str, **params: Any) -> list[neo4j.Record]:
        """One statement from ``kg.queries`` in its own transaction (retried by the driver)."""
        try:
            records, _, _ = self._driver.execute_query(
                query, parameters_=params, database_=self._database
            )
        except (ServiceUnavailable, SessionExpired) as exc:
            raise GraphUnavailableError(f"Neo4j is unreachable: {exc}") from exc
        return records

    def ensure_schema(self, dimensions: int) -> None:
        ensure_schema(self._driver, self._database, dimensions)

    def document_states(self, ids: Sequence[str]) -> dict[str, DocumentState]:
        states = {}
        for start in range(0, len(ids), WRITE_BATCH):
            for r in self.run(queries.DOCUMENT_STATES, ids=list(ids[start : start + WRITE_BATCH])):
                atoms = {atom_id: digest for atom_id, digest in r["atoms"] if atom_id is not None}
                states[r["id"]] = DocumentState(
                    r["content_hash"], r["link_hash"], r["removed"], atoms, frozenset(r["curated"])
                )
        return states

    def write_documents(self, changes: Sequence[DocumentWrite]) -> None:
        """Write documents with their changed atoms, deletions and mentions in one transaction."""
        docs = [
            {
                **c.document.model_dump(mode="json", exclude={"metadata"}),
                "metadata": json.dumps(c.document.metadata, ensure_ascii=False),
                "link_hash": c.link_hash,
                "about": c.about,
            }
            for c in changes
        ]
        deletions = [atom_id for c in changes for atom_id in c.delete]
        atoms = [_atom_row(atom) for c in changes for atom in c.upsert]
        held = [_atom_row(atom) for c in changes for atom in c.hold]
        orphaned = [atom_id for c in changes for atom_id in c.orphaned]
        mentions = [{"id": i, "entities": e} for c in changes for i, e in c.mentions.items()]

        def work(tx: neo4j.ManagedTransaction) -> None:
            for batch in _batches(docs):
                tx.run(queries.UPSERT_DOCUMENTS, docs=batch)
            for start in range(0, len(deletions), WRITE_BATCH):
                tx.run(queries.DELETE_ATOMS, ids=deletions[start : start + WRITE_BATCH])
            for batch in _batches(atoms):
                tx.run(queries.UPSERT_ATOMS, atoms=batch)
            for batch in _batches(held):
                tx.run(queries.HOLD_ATOMS, atoms=batch)
            if orphaned:
                tx.run(queries.FLAG_SOURCE_REMOVED, ids=orphaned)
            for batch in _batches(mentions):
                tx.run(queries.SET_MENTIONS, rows=batch)

        with self._driver.session(database=self._database) as session:
            session.execute_write(work)

    def collection_documents(self, collection: str) -> dict[str, str]:
        records = self.run(queries.COLLECTION_DOCUMENTS, collection=collection)
        return {r["id"]: r["path"] for r in records}

    def remove_documents(self, ids: Sequence[str], mode: Literal["delete", "deprecate"]) -> int:
        query = queries.DELETE_DOCUMENTS if mode == "delete" else queries.DEPRECATE_DOCUMENTS
        return int(self.run(query, ids=list(ids))[0]["atoms"]) if ids else 0

    def upsert_entities(self, entities: Sequence[Entity]) -> None:
        merged: dict[str, Entity] = {}
        for entity in entities:
            if entity.id in merged:
                old = merged[entity.id]
                aliases = old.aliases + [a for a in entity.aliases if a not in old.aliases]
                entity = old.model_copy(
                    update={
                        "aliases": aliases,
                        "description": old.description or entity.description,
                    }
                )
            merged[entity.id] = entity
        for kind in EntityKind:
            rows = [
                {
                    "id": e.id,
                    "name": e.name,
                    "kind": e.kind.value,
                    "aliases": e.aliases,
                    "description": e.description,
                }
                for e in merged.values()
                if e.kind is kind
            ]
            for batch in _batches(rows):
                self.run(queries.UPSERT_ENTITIES[kind], rows=batch)

    def upsert_relations(self, relations: Sequence[Relation]) -> None:
        for rel_type in RelationType:
            rows = list(
                {
                    (r.source, r.target, r.name): {
                        "source": r.source,
                        "target": r.target,
                        "name": r.name,
                    }
                    for r in relations
                    if r.type is rel_type
                }.values()
            )
            for batch in _batches(rows):
                self.run(queries.UPSERT_RELATIONS[rel_type], rows=batch)

    def retired_atoms(self) -> frozenset[str]:
        """Ids of atoms a curator merged away or deleted (ingest must not recreate them)."""
        return frozenset(self.run(queries.RETIRED_ATOMS)[0]["ids"])

    def entity_dictionary(self) -> list[DictionaryEntry]:
        return [
            DictionaryEntry(r["id"], r["name"], list(r["aliases"]), r["kind"])
            for r in self.run(queries.ENTITY_DICTIONARY)
        ]

    def save_candidates(self, rows: Sequence[tuple[str, int, list[str]]]) -> None:
        payload = [{"name": n, "count": c, "examples": ex} for n, c, ex in rows]
        for batch in _batches(payload):
            self.run(queries.SAVE_CANDIDATES, rows=batch)
        self.run(queries.PRUNE_CANDIDATES)

    def atom_texts(self) -> list[tuple[str, str, str]]:
        return [(r["id"], r["document_id"], r["text"]) for r in self.run(queries.ATOM_TEXTS)]

    def link_duplicates(self, pairs: Sequence[tuple[str, str, float]]) -> None:
        payload = [{"duplicate": a, "original": b, "similarity": s} for a, b, s in pairs]
        for batch in _batches(payload):
            self.run(queries.LINK_DUPLICATES, pairs=batch)

    def atoms_needing_embedding(self) -> list[tuple[str, str, str]]:
        return [(r["id"], r["title"], r["text"]) for r in self.run(queries.ATOMS_NEEDING_EMBEDDING)]

    def set_embeddings(self, rows: Iterable[tuple[str, list[float]]]) -> None:
        payload = [{"id": atom_id, "embedding": vector} for atom_id, vector in rows]
        for batch in _batches(payload):
            self.run(queries.SET_EMBEDDINGS, rows=batch)

    def embeddings(self) -> list[tuple[str, int, list[float]]]:
        return [(r["id"], r["version"], r["embedding"]) for r in self.run(queries.ALL_EMBEDDINGS)]

    def atoms(self, ids: Sequence[str]) -> list[StoredAtom]:
        by_id = {r["id"]: r for r in self.run(queries.ATOMS_BY_ID, ids=list(ids))}
        return [_stored_atom(by_id[i]) for i in ids if i in by_id]

    def snapshot(self) -> GraphRows:
        return GraphRows(
            atoms=[r.data() for r in self.run(queries.SNAPSHOT_ATOMS)],
            entities=[
                DictionaryEntry(r["id"], r["name"], list(r["aliases"]), r["kind"])
                for r in self.run(queries.SNAPSHOT_ENTITIES)
            ],
            relations=[
                (r["source"], r["name"], r["target"]) for r in self.run(queries.SNAPSHOT_RELATIONS)
            ],
            mentions=[(r["atom"], r["entity"]) for r in self.run(queries.SNAPSHOT_MENTIONS)],
        )

    def record_outside_edits(self, rows: Sequence[dict[str, str]], by: str) -> None:
        """Atoms whose text changed without a version bump: keep the old text as a version."""
        self.run(queries.RECORD_OUTSIDE_EDITS, rows=list(rows), by=by)

    def atoms_to_relink(self) -> list[AtomLinks]:
        """Atoms people changed, with their links (see ``kg.relink``)."""
        return [
            AtomLinks(
                id=r["id"],
                title=r["title"],
                text=r["text"],
                link_hash=r["link_hash"],
                automatic=frozenset(r["automatic"]),
                linked=frozenset(r["linked"]),
                declared=frozenset(r["declared"]),
            )
            for r in self.run(queries.ATOMS_TO_RELINK)
        ]

    def relink(self, plans: Sequence[Relink]) -> None:
        if plans:
            self.run(
                queries.RELINK_ATOMS,
                rows=[
                    {"id": p.id, "add": p.add, "remove": p.remove, "link_hash": p.link_hash}
                    for p in plans
                ],
            )

    def feedback_events(self) -> list[tuple[str, str, str, str]]:
        """``(question, atom id, kind, voter)`` of every vote on an answer."""
        rows = self.run(queries.FEEDBACK_EVENTS)
        return [(r["question"], r["atom"], r["kind"], r["voter"]) for r in rows]

    def flag_stale(self, days: int) -> int:
        """Flag atoms unverified for ``days`` for review; returns how many were flagged."""
        return int(self.run(queries.FLAG_STALE, days=days)[0]["flagged"])

    def graph_fingerprint(self) -> str:
        """Changes whenever anything search depends on changes (needs APOC; without it, the
        fingerprint is computed here from the whole snapshot)."""
        try:
            return str(self.run(queries.GRAPH_FINGERPRINT)[0]["fingerprint"])
        except neo4j.exceptions.ClientError as exc:
            if "apoc" not in str(exc).lower():
                raise
            rows = self.snapshot()
            payload = json.dumps(
                [rows.atoms, [vars(e) for e in rows.entities], rows.relations, rows.mentions],
                ensure_ascii=False,
                sort_keys=True,
                default=str,
            )
            return hashlib.sha256(payload.encode("utf-8")).hexdigest()

    def ping(self) -> None:
        """Raise ``GraphUnavailableError`` unless Neo4j answers a trivial query."""
        self.run(queries.PING)

    def atom_neighbourhood(self, atom_id: str) -> tuple[list[dict[str, Any]], list[str]]:
        """An atom's duplicates (with their visibility fields) and its feedback kinds."""
        rows = self.run(queries.ATOM_NEIGHBOURHOOD, id=atom_id)
        if not rows:
            return [], []
        duplicates = [d for d in rows[0]["duplicates"] if d["id"] is not None]
        return duplicates, list(rows[0]["feedback"])

    def entity(self, entity_id: str) -> dict[str, Any] | None:
        rows = self.run(queries.ENTITY, id=entity_id)
        return rows[0].data() if rows else None

    def entity_relations(self, entity_id: str, limit: int) -> list[dict[str, Any]]:
        return [r.data() for r in self.run(queries.ENTITY_RELATIONS, id=entity_id, limit=limit)]

    def entity_atoms(self, entity_id: str, statuses: Sequence[str]) -> list[dict[str, Any]]:
        """Ids and visibility fields of the atoms mentioning an entity, newest first."""
        rows = self.run(queries.ENTITY_ATOMS, id=entity_id, statuses=list(statuses))
        return [r.data() for r in rows]

    def find_entities(
        self, q: str | None, kind: str | None, offset: int, limit: int
    ) -> tuple[list[dict[str, Any]], int]:
        params = {"q": q or None, "kind": kind}
        rows = self.run(queries.FIND_ENTITIES, offset=offset, limit=limit, **params)
        total = self.run(queries.COUNT_ENTITIES, **params)[0]["total"]
        return [r.data() for r in rows], int(total)

    def record_answer(
        self, answer_id: str, question: str, intent: str, atom_ids: Sequence[str], **who: Any
    ) -> None:
        """An answer given, and the atoms it cited in order (``who``: key_id, team, user,
        channel)."""
        citations = [{"atom_id": a, "rank": i} for i, a in enumerate(atom_ids, start=1)]
        self.run(
            queries.RECORD_ANSWER,
            id=answer_id,
            question=question,
            intent=intent,
            citations=citations,
            **who,
        )

    def answer_atoms(self, answer_id: str) -> list[str] | None:
        """The atoms an answer cited; ``None`` when there is no such answer."""
        rows = self.run(queries.ANSWER, id=answer_id)
        return list(rows[0]["atoms"]) if rows else None

    def record_feedback(
        self,
        feedback_id: str,
        kind: str,
        atom_ids: Sequence[str],
        answer_id: str | None,
        **fields: Any,
    ) -> str:
        """A feedback event linked to its atoms (and answer); returns its creation time.
        ``fields``: comment, deal, key_id, team, user."""
        rows = self.run(
            queries.RECORD_FEEDBACK,
            id=feedback_id,
            kind=kind,
            atom_ids=list(atom_ids),
            answer_id=answer_id,
            **fields,
        )
        return str(rows[0]["created_at"]) if rows else ""

    def contributions(
        self, since: datetime | None = None, team: str | None = None
    ) -> list[Contribution]:
        """Per person, their atoms and how they were used, ranked by 贡献度
        (``kg.contributions``). ``since`` limits answers and feedback; ``team`` the atoms."""
        rows = self.run(queries.CONTRIBUTIONS, since=since, team=team, unattributed=UNATTRIBUTED)
        return rank(Contribution(**r.data()) for r in rows)

    def counts(self) -> dict[str, int]:
        record = self.run(queries.COUNTS)[0]
        return {key: int(value) for key, value in record.items()}

    def server_info(self) -> dict[str, str]:
        """Neo4j and APOC versions, for status pages."""
        info = {}
        for record in self.run(queries.COMPONENTS):
            info[record["name"]] = f"{record['versions'][0]} {record['edition']}"
        try:
            info["APOC"] = self.run(queries.APOC_VERSION)[0]["version"]
        except neo4j.exceptions.ClientError:
            info["APOC"] = "not installed"
        return info

    def close(self) -> None:
        self._driver.close()


def _batches(rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(rows), WRITE_BATCH):
        yield rows[start : start + WRITE_BATCH]


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
        "status": atom.status.value,
        "visibility": atom.visibility.value,
        "team": atom.team,
        "owner": atom.owner,
        "contributors": atom.contributors,
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
        entities=r["entities"],
        owner=r["owner"],
        contributors=r["contributors"],
        visibility=r["visibility"],
        team=r["team"],
        status=r["status"],
        version=r["version"],
        content_hash=r["content_hash"],
        created_at=r["created_at"].to_native(),
        updated_at=r["updated_at"].to_native(),
    )
    return StoredAtom(
        atom=atom, document_title=r["document_title"], document_path=r["document_path"]
    )
