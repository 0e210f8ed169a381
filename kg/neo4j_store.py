"""``GraphStore`` on Neo4j 5 through the official Python driver."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any, Literal

import neo4j
from neo4j import Driver, GraphDatabase
from neo4j.exceptions import (
    AuthError,
    ConstraintError,
    IncompleteCommit,
    ServiceUnavailable,
    SessionExpired,
    TransientError,
)

from kg import queries
from kg.access import Viewer, Writer
from kg.contributions import UNATTRIBUTED, Contribution, rank
from kg.errors import GraphAuthError, GraphUnavailableError, PermissionDeniedError
from kg.models import (
    Atom,
    AtomLinks,
    AtomType,
    CurationStatus,
    DictionaryEntry,
    Entity,
    EntityKind,
    Relation,
    RelationType,
    Relink,
    SourceSpan,
    Visibility,
    sanitized_atom_fields,
)
from kg.schema import ensure_schema
from kg.store import (
    ChangeToken,
    DocumentState,
    DocumentWrite,
    GraphRows,
    StoredAtom,
)

logger = logging.getLogger(__name__)

WRITE_BATCH = 500
EMBEDDINGS_PAGE = 5_000  # vectors per read: about 15 MB in the driver's lists
# The encoder of vectors written before each vector recorded its encoder (PyTorch fp32 e5).
LEGACY_MODEL = "multilingual-e5-small"


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

    def _run(self, query: str, **params: Any) -> list[neo4j.Record]:
        """One statement from ``kg.queries`` in its own transaction (retried by the driver)."""
        with _unavailable():
            records, _, _ = self._driver.execute_query(
                query, parameters_=params, database_=self._database
            )
        return records

    def ensure_schema(self, dimensions: int) -> None:
        ensure_schema(self._driver, self._database, dimensions)
        self.caption_atoms()

    def document_states(self, ids: Sequence[str]) -> dict[str, DocumentState]:
        states = {}
        for start in range(0, len(ids), WRITE_BATCH):
            for r in self._run(queries.DOCUMENT_STATES, ids=list(ids[start : start + WRITE_BATCH])):
                atoms = {atom_id: digest for atom_id, digest in r["atoms"] if atom_id is not None}
                states[r["id"]] = DocumentState(
                    r["content_hash"],
                    r["link_hash"],
                    r["removed"],
                    atoms,
                    frozenset(r["curated"]),
                    namespace=r["namespace"],
                    derived=r["derived"],
                    access=[dict(a) for a in r["access"] if a["visibility"] or a["owner"]],
                    source_hash=r["source_hash"],
                )
        return states

    def write_documents(self, changes: Sequence[DocumentWrite], writer: Writer) -> None:
        """Write documents with their changed atoms, deletions and mentions in one transaction.

        The transaction first checks that ``writer`` may change every document of the batch
        (its namespace, and no atom in it the writer may not see) and that no atom id belongs
        to another document; otherwise nothing is written (``PermissionDeniedError``). Atoms
        overwritten or deleted keep their earlier state as an ``AtomVersion``.
        """
        rows = _WriteRows.of(changes)

        def work(tx: neo4j.ManagedTransaction) -> None:
            _check_writable(tx, rows, writer)
            for batch in _batches(rows.docs):
                tx.run(queries.UPSERT_DOCUMENTS, docs=batch)
                tx.run(queries.SET_DECLARES, docs=batch)
            _write_atoms(tx, rows, writer, queries.UPSERT_ATOMS, queries.SET_MENTIONS)

        self._write(work)

    def write_large_document(self, change: DocumentWrite, writer: Writer, batch: int) -> None:
        """Write one document too large for one transaction, in transactions of ``batch``
        atoms, so that readers still see it change at once where it matters:

        - its new atoms are staged (``:StagedAtom``, read by nothing) batch by batch and
          become atoms together in the last transaction, which also commits its hash;
        - changes to atoms it already had (updates, deletions) land batch by batch before that.

        Interrupted, the document keeps its old hash, so the next run writes it again (staged
        leftovers are cleared first).
        """
        rows = _WriteRows.of([change])
        existing = set(
            self.document_states([change.document.id])
            .get(change.document.id, DocumentState(None, None, False))
            .atoms
        )
        new = [a for a in rows.atoms if a["id"] not in existing]
        updated = [a for a in rows.atoms if a["id"] in existing]

        def begin(tx: neo4j.ManagedTransaction) -> None:
            _check_writable(tx, rows, writer)
            tx.run(queries.BEGIN_LARGE_DOCUMENT, doc=rows.docs[0])

        self._write(begin)
        while self._run(queries.CLEAR_STAGED, id=change.document.id, limit=batch)[0]["cleared"]:
            pass
        mentions = {m["id"]: m for m in rows.mentions}
        for start in range(0, len(new), batch):
            atoms = new[start : start + batch]
            part = _WriteRows(
                atoms=atoms, mentions=[mentions[a["id"]] for a in atoms if a["id"] in mentions]
            )
            self._write(partial(_write_staged, rows=part, writer=writer))
        kept_mentions = [m for m in rows.mentions if m["id"] in existing]
        for part in _WriteRows.split(rows, updated, kept_mentions, batch):
            self._write(partial(_write_upserted, rows=part, writer=writer))

        def commit(tx: neo4j.ManagedTransaction) -> None:
            tx.run(queries.UPSERT_DOCUMENTS, docs=rows.docs)
            tx.run(queries.SET_DECLARES, docs=rows.docs)
            tx.run(queries.COMMIT_STAGED, id=change.document.id)

        self._write(commit)

    def _write(self, work: Callable[[neo4j.ManagedTransaction], None]) -> None:
        with _unavailable(), self._driver.session(database=self._database) as session:
            session.execute_write(work)

    def mark_derived(self, ids: Sequence[str]) -> None:
        for start in range(0, len(ids), WRITE_BATCH):
            self._run(queries.MARK_DERIVED, ids=list(ids[start : start + WRITE_BATCH]))

    def set_source_hashes(self, hashes: dict[str, str]) -> None:
        rows = [{"id": doc_id, "source_hash": digest} for doc_id, digest in hashes.items()]
        for start in range(0, len(rows), WRITE_BATCH):
            self._run(queries.SET_SOURCE_HASHES, rows=rows[start : start + WRITE_BATCH])

    def underived_documents(self) -> list[tuple[str, str]]:
        """Documents whose derived data (duplicates, candidates) an interrupted run left out."""
        return [(r["id"], r["path"]) for r in self._run(queries.UNDERIVED_DOCUMENTS)]

    def collection_documents(self, collection: str, namespace: str | None = None) -> dict[str, str]:
        records = self._run(
            queries.COLLECTION_DOCUMENTS, collection=collection, namespace=namespace
        )
        return {r["id"]: r["path"] for r in records}

    def remove_documents(
        self, ids: Sequence[str], mode: Literal["delete", "deprecate"], by: str = "ingest"
    ) -> int:
        if not ids:
            return 0
        self._run(queries.CLEAR_STAGED_OF_DOCUMENTS, ids=list(ids))
        if mode == "delete":
            return int(self._run(queries.DELETE_DOCUMENTS, ids=list(ids), by=by)[0]["atoms"])
        return int(self._run(queries.DEPRECATE_DOCUMENTS, ids=list(ids))[0]["atoms"])

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
                self._run(queries.UPSERT_ENTITIES[kind], rows=batch)

    def upsert_relations(self, relations: Sequence[Relation]) -> None:
        for rel_type in RelationType:
            merged: dict[tuple[str, str, str], dict[str, Any]] = {}
            for r in relations:
                if r.type is not rel_type:
                    continue
                row = merged.setdefault(
                    (r.source, r.target, r.name),
                    {"source": r.source, "target": r.target, "name": r.name, "documents": []},
                )
                if r.document_id and r.document_id not in row["documents"]:
                    row["documents"].append(r.document_id)
            for batch in _batches(list(merged.values())):
                self._run(queries.UPSERT_RELATIONS[rel_type], rows=batch)

    def retired_atoms(self) -> frozenset[str]:
        """Ids of atoms a curator merged away or deleted (ingest must not recreate them)."""
        return frozenset(self._run(queries.RETIRED_ATOMS)[0]["ids"])

    def entity_dictionary(self) -> list[DictionaryEntry]:
        return [
            DictionaryEntry(r["id"], r["name"], list(r["aliases"]), r["kind"])
            for r in self._run(queries.ENTITY_DICTIONARY)
        ]

    def save_candidates(self, rows: Sequence[tuple[str, int, list[str]]]) -> None:
        payload = [{"name": n, "count": c, "examples": ex} for n, c, ex in rows]
        for batch in _batches(payload):
            self._run(queries.SAVE_CANDIDATES, rows=batch)
        self._run(queries.PRUNE_CANDIDATES)

    def atom_texts(self) -> list[tuple[str, str, str, str]]:
        """``(atom id, document id, text, document kind)`` of every atom."""
        return [
            (r["id"], r["document_id"], r["text"] or "", r["kind"] or "")
            for r in self._run(queries.ATOM_TEXTS)
        ]

    def link_duplicates(self, pairs: Sequence[tuple[str, str, float]]) -> None:
        payload = [{"duplicate": a, "original": b, "similarity": s} for a, b, s in pairs]
        for batch in _batches(payload):
            self._run(queries.LINK_DUPLICATES, pairs=batch)

    def atoms_needing_embedding(self, model: str) -> list[tuple[str, str, str]]:
        """Atoms without a vector of ``model`` (none yet, or another encoder's)."""
        rows = self._run(queries.ATOMS_NEEDING_EMBEDDING, model=model, legacy=LEGACY_MODEL)
        return [(r["id"], r["title"], r["text"]) for r in rows]

    def set_embeddings(self, rows: Iterable[tuple[str, list[float]]], model: str) -> None:
        payload = [{"id": atom_id, "embedding": vector} for atom_id, vector in rows]
        for batch in _batches(payload):
            self._run(queries.SET_EMBEDDINGS, rows=batch, model=model)

    def embeddings(self, model: str) -> Iterator[tuple[str, int, list[float]]]:
        """The searchable atoms' vectors made by ``model``, in id order, read a page at a time."""
        after = ""
        while True:
            rows = self._run(
                queries.EMBEDDINGS_PAGE,
                model=model,
                legacy=LEGACY_MODEL,
                after=after,
                limit=EMBEDDINGS_PAGE,
            )
            for r in rows:
                yield r["id"], r["version"], r["embedding"]
            if len(rows) < EMBEDDINGS_PAGE:
                return
            after = rows[-1]["id"]

    def atoms(self, ids: Sequence[str]) -> list[StoredAtom]:
        by_id = {r["id"]: r for r in self._run(queries.ATOMS_BY_ID, ids=list(ids))}
        return [_stored_atom(by_id[i]) for i in ids if i in by_id]

    def snapshot(self) -> GraphRows:
        relations = self._run(queries.SNAPSHOT_RELATIONS)
        return GraphRows(
            atoms=[r.data() for r in self._run(queries.SNAPSHOT_ATOMS)],
            entities=[
                DictionaryEntry(r["id"], r["name"], list(r["aliases"]), r["kind"])
                for r in self._run(queries.SNAPSHOT_ENTITIES)
            ],
            relations=[(r["source"], r["name"], r["target"]) for r in relations],
            mentions=[(r["atom"], r["entity"]) for r in self._run(queries.SNAPSHOT_MENTIONS)],
            backing=[
                (r["entity"], r["document"], [a for aliases in r["aliases"] for a in aliases or []])
                for r in self._run(queries.SNAPSHOT_BACKING)
            ],
            relation_sources={
                (r["source"], r["name"], r["target"]): list(r["sources"])
                for r in relations
                if r["sources"]
            },
        )

    def record_outside_edits(self, rows: Sequence[dict[str, str]], by: str) -> None:
        """Atoms whose text changed without a version bump: keep the old text as a version."""
        self._run(queries.RECORD_OUTSIDE_EDITS, rows=list(rows), by=by)

    def atoms_to_relink(self, among: Sequence[str] | None = None) -> list[AtomLinks]:
        """Atoms people changed, with their links (see ``kg.relink``); only those ``among``
        these ids when given."""
        rows = (
            self._run(queries.ATOMS_TO_RELINK)
            if among is None
            else self._run(queries.ATOMS_TO_RELINK_AMONG, ids=list(among))
        )
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
            for r in rows
        ]

    def relink(self, plans: Sequence[Relink]) -> None:
        if plans:
            self._run(
                queries.RELINK_ATOMS,
                rows=[
                    {"id": p.id, "add": p.add, "remove": p.remove, "link_hash": p.link_hash}
                    for p in plans
                ],
            )

    def feedback_events(self) -> list[tuple[str, str, str, str]]:
        """``(question, atom id, kind, voter)`` of every vote on an answer."""
        rows = self._run(queries.FEEDBACK_EVENTS)
        return [(r["question"], r["atom"], r["kind"], r["voter"]) for r in rows]

    def flag_stale(self, days: int) -> int:
        """Flag atoms unverified for ``days`` for review; returns how many were flagged."""
        return int(self._run(queries.FLAG_STALE, days=days)[0]["flagged"])

    def graph_fingerprint(self) -> str:
        """Changes whenever anything search depends on changes (needs APOC; without it, the
        fingerprint is computed here from the whole snapshot)."""
        try:
            return str(self._run(queries.GRAPH_FINGERPRINT)[0]["fingerprint"])
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

    # -- the change feed (issue 15) -----------------------------------------------------------
    def change_token(self, lag_s: float) -> ChangeToken:
        """Counts and newest stamps: changes whenever a writer changes what search reads."""
        r = self._run(queries.CHANGE_TOKEN, lag_s=int(lag_s))[0]
        return ChangeToken(
            **{k: int(r[k]) for k in ("atoms", "mentions", "entities", "relations")},
            **{k: int(r[k]) for k in ("declares", "about", "feedback", "recent")},
            atom_ms=r["atom_ms"],
            entity_ms=r["entity_ms"],
        )

    def atom_stamps_since(self, since_ms: int) -> dict[str, int]:
        """Atoms stamped at or after ``since_ms`` (epoch ms), with their stamps."""
        (row,) = self._run(queries.ATOM_STAMPS_SINCE, since_ms=int(since_ms))
        return dict(zip(row["ids"], map(int, row["ms"]), strict=True))

    def changed_atoms(self, ids: Sequence[str], model: str) -> list[dict[str, Any]]:
        """These atoms as the snapshot holds them, with ``ms`` (their stamp), ``embedding``
        (of ``model``, or None) and ``mentions`` (entity ids); deleted ones are absent."""
        rows: list[dict[str, Any]] = []
        for start in range(0, len(ids), WRITE_BATCH * 4):
            batch = list(ids[start : start + WRITE_BATCH * 4])
            rows += [
                r.data()
                for r in self._run(
                    queries.CHANGED_ATOMS, ids=batch, model=model, legacy=LEGACY_MODEL
                )
            ]
        return rows

    def atoms_needing_embedding_among(
        self, ids: Sequence[str], model: str
    ) -> list[tuple[str, str, str]]:
        """Those of these atoms without a vector of ``model``."""
        rows = self._run(
            queries.ATOMS_NEEDING_EMBEDDING_AMONG, ids=list(ids), model=model, legacy=LEGACY_MODEL
        )
        return [(r["id"], r["title"], r["text"]) for r in rows]

    def atom_ids(self) -> set[str]:
        """Every atom's id (to find deletions when the atom count says there were some)."""
        (row,) = self._run(queries.ATOM_IDS)
        return set(row["ids"])

    def atom_feedback(self) -> dict[str, list[list[Any]]]:
        """Votes on atoms per atom: ``[[kind, distinct voters], ...]``."""
        return {r["id"]: list(r["feedback"]) for r in self._run(queries.ATOM_FEEDBACK)}

    def entity_layer(self) -> GraphRows:
        """The snapshot's entity part (entities, relations, provenance), without atoms."""
        relations = self._run(queries.SNAPSHOT_RELATIONS)
        return GraphRows(
            atoms=[],
            entities=[
                DictionaryEntry(r["id"], r["name"], list(r["aliases"]), r["kind"])
                for r in self._run(queries.SNAPSHOT_ENTITIES)
            ],
            relations=[(r["source"], r["name"], r["target"]) for r in relations],
            mentions=[],
            backing=[
                (r["entity"], r["document"], [a for aliases in r["aliases"] for a in aliases or []])
                for r in self._run(queries.SNAPSHOT_BACKING)
            ],
            relation_sources={
                (r["source"], r["name"], r["target"]): list(r["sources"])
                for r in relations
                if r["sources"]
            },
        )

    def mentions(self) -> list[tuple[str, str]]:
        """Every (atom, entity) mention."""
        return [(r["atom"], r["entity"]) for r in self._run(queries.SNAPSHOT_MENTIONS)]

    def ping(self) -> None:
        """Raise ``GraphUnavailableError`` unless Neo4j answers a trivial query."""
        self._run(queries.PING)

    def atom_neighbourhood(self, atom_id: str) -> tuple[list[dict[str, Any]], list[str]]:
        """An atom's duplicates (with their visibility fields) and its feedback kinds."""
        rows = self._run(queries.ATOM_NEIGHBOURHOOD, id=atom_id)
        if not rows:
            return [], []
        duplicates = [d for d in rows[0]["duplicates"] if d["id"] is not None]
        return duplicates, list(rows[0]["feedback"])

    def entity(self, entity_id: str, viewer: Viewer) -> dict[str, Any] | None:
        """An entity with the aliases and description ``viewer`` may see; None when there is
        no such entity or nothing ``viewer`` may see backs it."""
        rows = self._run(queries.ENTITY, id=entity_id, **_who(viewer))
        return rows[0].data() if rows else None

    def entity_relations(self, entity_id: str, limit: int, viewer: Viewer) -> list[dict[str, Any]]:
        """Relations to entities ``viewer`` may see, stated by documents it may see."""
        rows = self._run(queries.ENTITY_RELATIONS, id=entity_id, limit=limit, **_who(viewer))
        return [r.data() for r in rows]

    def entity_atoms(self, entity_id: str, statuses: Collection[str]) -> list[dict[str, Any]]:
        """Ids and visibility fields of the atoms mentioning an entity, newest first."""
        rows = self._run(queries.ENTITY_ATOMS, id=entity_id, statuses=list(statuses))
        return [r.data() for r in rows]

    def find_entities(
        self, q: str | None, kind: str | None, offset: int, limit: int, viewer: Viewer
    ) -> tuple[list[dict[str, Any]], int]:
        """Entities ``viewer`` may see by name or visible alias; mentions count its atoms."""
        params = {"q": q or None, "kind": kind, **_who(viewer)}
        rows = self._run(queries.FIND_ENTITIES, offset=offset, limit=limit, **params)
        total = self._run(queries.COUNT_ENTITIES, **params)[0]["total"]
        return [r.data() for r in rows], int(total)

    def record_answer(
        self,
        answer_id: str,
        question: str,
        intent: str,
        atom_ids: Sequence[str],
        *,
        answered: bool = True,
        confidence: float = 1.0,
        leads: Sequence[str] = (),
        **who: Any,
    ) -> None:
        """An answer given, the atoms it cited in order, whether it declined (and the leads it
        showed instead); ``who``: key_id, team, user, channel. Declined answers are the
        knowledge gaps (``gaps``)."""
        citations = [{"atom_id": a, "rank": i} for i, a in enumerate(atom_ids, start=1)]
        self._run(
            queries.RECORD_ANSWER,
            id=answer_id,
            question=question,
            intent=intent,
            citations=citations,
            answered=answered,
            confidence=confidence,
            leads=list(leads),
            **who,
        )

    def gaps(self, since: datetime, offset: int, limit: int) -> tuple[list[dict[str, Any]], int]:
        """Questions asked since ``since`` that found no reliable answer, most asked first."""
        rows = self._run(queries.GAPS, since=since, offset=offset, limit=limit)
        total = self._run(queries.COUNT_GAPS, since=since)[0]["total"]
        return [r.data() for r in rows], int(total)

    def answer_atoms(self, answer_id: str) -> list[str] | None:
        """The atoms an answer cited; ``None`` when there is no such answer."""
        rows = self._run(queries.ANSWER, id=answer_id)
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
        rows = self._run(
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
        rows = self._run(queries.CONTRIBUTIONS, since=since, team=team, unattributed=UNATTRIBUTED)
        return rank(Contribution(**r.data()) for r in rows)

    # -- ingest jobs (the API's upload queue; its state lives here so any worker reads it) --
    def create_job(self, job_id: str, **fields: Any) -> None:
        """``fields``: key_id, team, collection, files, worker, options (JSON), size."""
        self._run(queries.CREATE_JOB, id=job_id, **fields)

    def update_job(
        self, job_id: str, state: str, report: str | None = None, error: str | None = None
    ) -> None:
        self._run(queries.UPDATE_JOB, id=job_id, state=state, report=report, error=error)

    def job(self, job_id: str) -> dict[str, Any] | None:
        rows = self._run(queries.JOB, id=job_id)
        return rows[0].data() if rows else None

    def jobs(self, key_id: str | None, offset: int, limit: int) -> tuple[list[dict[str, Any]], int]:
        """A page of jobs, newest first (of one key, or of all when ``key_id`` is None)."""
        rows = self._run(queries.LIST_JOBS, key_id=key_id, offset=offset, limit=limit)
        total = self._run(queries.COUNT_JOBS, key_id=key_id)[0]["total"]
        return [r.data() for r in rows], int(total)

    def unfinished_jobs(self) -> list[dict[str, Any]]:
        return [r.data() for r in self._run(queries.UNFINISHED_JOBS)]

    def claim_job(self, job_id: str, previous: str | None, worker: str) -> bool:
        """Take over a job from a process that is gone; False when another worker did."""
        return bool(self._run(queries.CLAIM_JOB, id=job_id, previous=previous, worker=worker))

    def abandon_job(self, job_id: str, error: str) -> None:
        self._run(queries.ABANDON_JOB, id=job_id, error=error)

    # -- API keys (api/keys.py issues and checks them; only a key's SHA-256 is stored) ------
    def create_api_key(
        self,
        key_id: str,
        *,
        name: str,
        digest: str,
        scopes: Sequence[str],
        team: str | None,
        user: str | None,
    ) -> None:
        self._run(
            queries.CREATE_API_KEY,
            id=key_id,
            name=name,
            hash=digest,
            scopes=list(scopes),
            team=team,
            user=user,
        )

    def api_key(self, key_id: str) -> dict[str, Any] | None:
        """A key's id, name, hash, scopes, team, user and times; None when there is none."""
        rows = self._run(queries.API_KEY, id=key_id)
        return _api_key(rows[0]) if rows else None

    def api_keys(self) -> list[dict[str, Any]]:
        """Every key, oldest first."""
        return [_api_key(r) for r in self._run(queries.LIST_API_KEYS)]

    def revoke_api_key(self, key_id: str) -> bool:
        """True when an active key was revoked."""
        return bool(self._run(queries.REVOKE_API_KEY, id=key_id))

    def touch_api_key(self, key_id: str) -> None:
        self._run(queries.TOUCH_API_KEY, id=key_id)

    # -- conversations (issue 16): follow-up questions, kept per API key --------------------
    def last_turn(self, conversation_id: str, key_id: str) -> dict[str, Any] | None:
        """The last turn of a conversation of ``key_id`` (``n`` None before the first); None
        when the key has no such conversation (another key's included)."""
        rows = self._run(queries.CONVERSATION_LAST_TURN, id=conversation_id, key_id=key_id)
        return rows[0].data() if rows else None

    def start_conversation(
        self, conversation_id: str, key_id: str, team: str | None, user: str | None, **turn: Any
    ) -> int:
        """A new conversation with its first turn (``turn`` as for ``add_turn``); 1."""
        rows = self._run(
            queries.START_CONVERSATION,
            id=conversation_id,
            key_id=key_id,
            team=team,
            user=user,
            **turn,
        )
        return int(rows[0]["n"])

    def add_turn(self, conversation_id: str, key_id: str, **turn: Any) -> int | None:
        """Append a turn; its number, or None when the key has no such conversation.
        ``turn``: question, resolved, subject, followup, intent, answer_id, answered,
        channel."""
        rows = self._run(queries.ADD_TURN, id=conversation_id, key_id=key_id, **turn)
        return int(rows[0]["n"]) if rows else None

    def conversation(self, conversation_id: str, key_id: str, limit: int) -> dict[str, Any] | None:
        """A conversation of ``key_id`` with its first ``limit`` turns; None otherwise."""
        rows = self._run(queries.CONVERSATION_TURNS, id=conversation_id, key_id=key_id, limit=limit)
        return rows[0].data() if rows else None

    def delete_old_conversations(self, days: int, limit: int = 1000) -> int:
        """Delete up to ``limit`` conversations untouched for ``days`` days, with their turns."""
        rows = self._run(queries.DELETE_OLD_CONVERSATIONS, days=days, limit=limit)
        return int(rows[0]["deleted"]) if rows else 0

    def counts(self) -> dict[str, int]:
        record = self._run(queries.COUNTS)[0]
        return {key: int(value) for key, value in record.data().items()}

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

    # -- review (the knowledge managers' page) and Neo4j Browser captions ------------------
    def review_atoms(
        self, kind: str, viewer: Viewer, offset: int, limit: int, days: int
    ) -> tuple[list[dict[str, Any]], int]:
        """A page of the atoms of one review list that ``viewer`` may see, and their count:
        ``flagged`` (a review flag), ``stale`` (unverified for ``days`` days) or ``invalid``
        (missing or invalid fields)."""
        page, count = _REVIEW_QUERIES[kind]
        params = {
            **_who(viewer),
            "days": days,
            "types": [t.value for t in AtomType],
            "statuses": [s.value for s in CurationStatus],
            "visibilities": [v.value for v in Visibility],
        }
        rows = self._run(page, offset=offset, limit=limit, **params)
        total = self._run(count, **params)[0]["total"]
        return [r.data() for r in rows], int(total)

    def caption_atoms(self) -> int:
        """Bring every atom's ``caption`` (Neo4j Browser shows it: curation/style.grass) in
        line with its type and title; returns how many atoms changed."""
        return int(self._run(queries.SET_ATOM_CAPTIONS)[0]["captioned"])

    # -- briefs and pushes (issue 17) --------------------------------------------------------
    def seed_push_rules(self, rules: Sequence[dict[str, Any]]) -> int:
        """Write the default push rules at the first start only; how many were written."""
        return int(self._run(queries.SEED_PUSH_RULES, rules=list(rules))[0]["seeded"])

    def push_rules(self) -> list[dict[str, Any]]:
        return [dict(r["rule"]) for r in self._run(queries.PUSH_RULES)]

    def replace_push_rules(self, rules: Sequence[dict[str, Any]], by: str) -> None:
        self._run(queries.REPLACE_PUSH_RULES, rules=list(rules), by=by)

    def record_opportunity(self, key: str, **fields: Any) -> dict[str, Any]:
        """Note an event on an opportunity; returns what it held before (``competitors``,
        ``stage``, ``previous``: the event's metric's last value). ``fields``: id, namespace,
        customer, stage, competitors, metric, value."""
        return self._run(queries.RECORD_OPPORTUNITY, key=key, **fields)[0].data()

    def create_push(self, row: dict[str, Any], per_hour: int) -> str:
        """A push, unless one of the same dedup key exists (``duplicate``) or its rep had
        ``per_hour`` pushes in the last hour (``rate_limited``); else ``queued``."""

        def work(tx: neo4j.ManagedTransaction) -> str:
            if tx.run(queries.PUSH_BY_DEDUP_KEY, dedup_key=row["dedup_key"]).single():
                return "duplicate"
            if per_hour > 0:
                recent = tx.run(
                    queries.RECENT_PUSHES, namespace=row["namespace"], rep=row["rep"], seconds=3600
                ).single()
                if recent is not None and recent["n"] >= per_hour:
                    return "rate_limited"
            tx.run(queries.CREATE_PUSH, **row)
            return "queued"

        try:
            with _unavailable(), self._driver.session(database=self._database) as session:
                return session.execute_write(work)
        except ConstraintError:  # the same push, created by a concurrent event
            return "duplicate"

    def claim_pushes(self, worker: str, limit: int, lease_s: float) -> list[dict[str, Any]]:
        rows = self._run(queries.CLAIM_PUSHES, worker=worker, limit=limit, lease_ms=lease_s * 1000)
        return [r.data() for r in rows]

    def finish_push(
        self,
        push_id: str,
        worker: str,
        state: str,
        *,
        status: int | None = None,
        error: str | None = None,
        retry_s: float | None = None,
    ) -> bool:
        """Record a delivery's outcome; False when the worker's lease was taken over."""
        retry_ms = None if retry_s is None else retry_s * 1000
        rows = self._run(
            queries.FINISH_PUSH,
            id=push_id,
            worker=worker,
            state=state,
            status=status,
            error=error,
            retry_ms=retry_ms,
        )
        return bool(rows)

    def pushes(
        self,
        namespace: str | None,
        offset: int,
        limit: int,
        opportunity_id: str | None = None,
        state: str | None = None,
    ) -> tuple[list[dict[str, Any]], int]:
        """A page of pushes, newest first, of one namespace (or all when None)."""
        params = {"namespace": namespace, "opportunity_id": opportunity_id, "state": state}
        rows = self._run(queries.LIST_PUSHES, offset=offset, limit=limit, **params)
        total = self._run(queries.COUNT_PUSHES, **params)[0]["total"]
        return [dict(r["push"]) for r in rows], int(total)

    def close(self) -> None:
        self._driver.close()


_REVIEW_QUERIES: dict[str, tuple[str, str]] = {
    "flagged": (queries.REVIEW_FLAGGED, queries.COUNT_REVIEW_FLAGGED),
    "stale": (queries.REVIEW_STALE, queries.COUNT_REVIEW_STALE),
    "invalid": (queries.REVIEW_INVALID, queries.COUNT_REVIEW_INVALID),
}


@dataclass
class _WriteRows:
    """A write's rows as Cypher parameters."""

    docs: list[dict[str, Any]] = field(default_factory=list)
    atoms: list[dict[str, Any]] = field(default_factory=list)
    deletions: list[dict[str, str]] = field(default_factory=list)
    held: list[dict[str, Any]] = field(default_factory=list)
    orphaned: list[str] = field(default_factory=list)
    mentions: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def of(cls, changes: Sequence[DocumentWrite]) -> _WriteRows:
        return cls(
            docs=[
                {
                    **c.document.model_dump(mode="json", exclude={"metadata"}),
                    "metadata": json.dumps(c.document.metadata, ensure_ascii=False),
                    "link_hash": c.link_hash,
                    "about": c.about,
                    "declares": [
                        {"id": e.id, "aliases": e.aliases, "description": e.description}
                        for e in c.declares
                    ],
                }
                for c in changes
            ],
            atoms=[_atom_row(atom) for c in changes for atom in c.upsert],
            deletions=[
                {"id": atom_id, "document_id": c.document.id}
                for c in changes
                for atom_id in c.delete
            ],
            held=[_atom_row(atom) for c in changes for atom in c.hold],
            orphaned=[atom_id for c in changes for atom_id in c.orphaned],
            mentions=[{"id": i, "entities": e} for c in changes for i, e in c.mentions.items()],
        )

    @classmethod
    def split(
        cls,
        rows: _WriteRows,
        atoms: list[dict[str, Any]],
        mentions: list[dict[str, Any]],
        size: int,
    ) -> list[_WriteRows]:
        """The changes to a document's existing atoms (``atoms``, deletions, held, orphaned,
        ``mentions``) in parts of about ``size`` rows."""
        parts: list[_WriteRows] = []
        for start in range(0, max(len(atoms), len(rows.deletions), len(mentions), 1), size):
            end = start + size
            parts.append(
                cls(
                    atoms=atoms[start:end],
                    deletions=rows.deletions[start:end],
                    mentions=mentions[start:end],
                )
            )
        parts[-1].held, parts[-1].orphaned = rows.held, rows.orphaned
        return parts


def _check_writable(tx: neo4j.ManagedTransaction, rows: _WriteRows, writer: Writer) -> None:
    """Refuse (``PermissionDeniedError``, nothing written) documents ``writer`` may not
    change, and atom ids of another document."""
    who: dict[str, Any] = {"team": writer.team, "user": writer.user, "trusted": writer.trusted}
    for batch in _batches(rows.docs):
        refused = list(tx.run(queries.FORBIDDEN_DOCUMENTS, docs=batch, **who))
        if refused:
            raise PermissionDeniedError(
                "不能修改属于其他团队或他人的文档："
                + "、".join(str(r["path"]) for r in refused)
                + " (documents of another team or person)"
            )
    for batch in _batches(rows.atoms):
        if list(tx.run(queries.FOREIGN_ATOMS, atoms=batch)):
            raise PermissionDeniedError("知识编号与其他文档冲突 (atom ids of another document)")


def _write_atoms(
    tx: neo4j.ManagedTransaction, rows: _WriteRows, writer: Writer, upsert: str, mention: str
) -> None:
    """Deletions, upserts, held source changes, orphans and mentions; history kept."""
    for batch in _batches(rows.deletions):
        tx.run(queries.VERSION_BEFORE_DELETE, rows=batch, by=writer.label)
        tx.run(queries.DELETE_ATOMS, rows=batch)
    for batch in _batches(rows.atoms):
        tx.run(queries.VERSION_BEFORE_OVERWRITE, atoms=batch, by=writer.label)
        tx.run(upsert, atoms=batch)
    for batch in _batches(rows.held):
        tx.run(queries.HOLD_ATOMS, atoms=batch)
    if rows.orphaned:
        tx.run(queries.FLAG_SOURCE_REMOVED, ids=rows.orphaned)
    for batch in _batches(rows.mentions):
        tx.run(mention, rows=batch)


def _write_staged(tx: neo4j.ManagedTransaction, rows: _WriteRows, writer: Writer) -> None:
    """One part of a large document's new atoms, staged until the document commits."""
    _write_atoms(tx, rows, writer, queries.STAGE_ATOMS, queries.SET_STAGED_MENTIONS)


def _write_upserted(tx: neo4j.ManagedTransaction, rows: _WriteRows, writer: Writer) -> None:
    """One part of a large document's changed atoms, written in place."""
    _write_atoms(tx, rows, writer, queries.UPSERT_ATOMS, queries.SET_MENTIONS)


@contextmanager
def _unavailable() -> Iterator[None]:
    """Driver failures as ``GraphUnavailableError``, with what a person should do."""
    try:
        yield
    except IncompleteCommit as exc:
        raise GraphUnavailableError(
            "与 Neo4j 的连接在提交时中断，无法确认这批写入是否生效；Neo4j 恢复后重新运行同样的"
            "操作即可（已写入的会跳过，未完成的会补齐） (the connection to Neo4j dropped while "
            f"committing; rerun the same command once Neo4j is back: {exc})"
        ) from exc
    except (ServiceUnavailable, SessionExpired) as exc:
        raise GraphUnavailableError(f"Neo4j is unreachable: {exc}") from exc
    except TransientError as exc:  # still failing after the driver's retries
        raise GraphUnavailableError(f"Neo4j could not complete the request: {exc}") from exc


def _who(viewer: Viewer) -> dict[str, str | None]:
    """The ``$team`` and ``$user`` of ``kg.queries.VISIBLE_ATOM``."""
    return {"team": viewer.team, "user": viewer.user}


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
    """An atom as read back. Fields a hand edit left missing or invalid never fail a read:
    they fail closed (``atom_problems``): an unknown visibility is private to the owner, an
    unknown status is deprecated (out of search), an unknown type a knowledge card."""
    fields = sanitized_atom_fields(r)
    atom = Atom(
        id=r["id"],
        source=SourceSpan(
            document_id=r["document_id"] or "",
            section=_text(r["section"]),
            start=_count(r["start"]),
            end=_count(r["end"]),
        ),
        entities=[e for e in r["entities"] if isinstance(e, str)],
        owner=_optional_text(r["owner"]),
        contributors=[c for c in r["contributors"] or [] if isinstance(c, str)],
        team=_optional_text(r["team"]),
        content_hash=_text(r["content_hash"]) or "-",
        created_at=_time(r["created_at"]),
        updated_at=_time(r["updated_at"]),
        **fields,
    )
    return StoredAtom(
        atom=atom,
        document_title=_text(r["document_title"]),
        document_path=_text(r["document_path"]),
    )


def _api_key(r: neo4j.Record) -> dict[str, Any]:
    row = r.data()
    for field_name in ("created_at", "revoked_at", "last_used_at"):
        value = row[field_name]
        row[field_name] = value.to_native() if value is not None else None
    return row


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _optional_text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _count(value: Any) -> int:
    return value if isinstance(value, int) and value >= 0 else 0


def _time(value: Any) -> datetime:
    if isinstance(value, int) and not isinstance(value, bool):  # epoch milliseconds
        return datetime.fromtimestamp(value / 1000, UTC)
    native = value.to_native() if hasattr(value, "to_native") else value
    if isinstance(native, datetime):
        return native if native.tzinfo else native.replace(tzinfo=UTC)
    return datetime(1970, 1, 1, tzinfo=UTC)
