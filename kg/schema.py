"""Idempotent schema setup: uniqueness constraints, the vector index and the CJK full-text index."""

from __future__ import annotations

import logging

from neo4j import Driver

from kg import queries
from kg.errors import ConfigError

logger = logging.getLogger(__name__)

VECTOR_INDEX = "atom_embedding"
FULLTEXT_INDEX = "atom_fulltext"

CONSTRAINTS = (
    "CREATE CONSTRAINT atom_id IF NOT EXISTS FOR (a:Atom) REQUIRE a.id IS UNIQUE",
    "CREATE CONSTRAINT document_id IF NOT EXISTS FOR (d:Document) REQUIRE d.id IS UNIQUE",
    "CREATE CONSTRAINT entity_id IF NOT EXISTS FOR (e:Entity) REQUIRE e.id IS UNIQUE",
    "CREATE CONSTRAINT candidate_name IF NOT EXISTS "
    "FOR (c:EntityCandidate) REQUIRE c.name IS UNIQUE",
    "CREATE CONSTRAINT api_key_id IF NOT EXISTS FOR (k:ApiKey) REQUIRE k.id IS UNIQUE",
    "CREATE CONSTRAINT answer_id IF NOT EXISTS FOR (a:Answer) REQUIRE a.id IS UNIQUE",
    "CREATE CONSTRAINT feedback_id IF NOT EXISTS FOR (f:Feedback) REQUIRE f.id IS UNIQUE",
    "CREATE CONSTRAINT ingest_job_id IF NOT EXISTS FOR (j:IngestJob) REQUIRE j.id IS UNIQUE",
    "CREATE INDEX document_collection IF NOT EXISTS FOR (d:Document) ON (d.collection)",
    "CREATE INDEX entity_name IF NOT EXISTS FOR (e:Entity) ON (e.name)",
    "CREATE INDEX atom_status IF NOT EXISTS FOR (a:Atom) ON (a.status)",
    "CREATE INDEX staged_atom_id IF NOT EXISTS FOR (a:StagedAtom) ON (a.id)",
    "CREATE INDEX document_derived IF NOT EXISTS FOR (d:Document) ON (d.derived)",
    # The change feed (issue 15): what changed since a stamp, found through these.
    "CREATE INDEX atom_updated IF NOT EXISTS FOR (a:Atom) ON (a.updated_at)",
    "CREATE INDEX entity_updated IF NOT EXISTS FOR (e:Entity) ON (e.updated_at)",
    # Conversations (follow-up questions): one per id; old ones found by their last turn.
    "CREATE CONSTRAINT conversation_id IF NOT EXISTS FOR (c:Conversation) REQUIRE c.id IS UNIQUE",
    "CREATE INDEX conversation_updated IF NOT EXISTS FOR (c:Conversation) ON (c.updated_at)",
    # -- briefs and pushes (issue 17): one push per dedup key, even under concurrent events.
    "CREATE CONSTRAINT push_id IF NOT EXISTS FOR (p:Push) REQUIRE p.id IS UNIQUE",
    "CREATE CONSTRAINT push_dedup_key IF NOT EXISTS FOR (p:Push) REQUIRE p.dedup_key IS UNIQUE",
    "CREATE CONSTRAINT push_rule_id IF NOT EXISTS FOR (r:PushRule) REQUIRE r.id IS UNIQUE",
    "CREATE CONSTRAINT push_rule_set_id IF NOT EXISTS FOR (s:PushRuleSet) REQUIRE s.id IS UNIQUE",
    "CREATE CONSTRAINT opportunity_key IF NOT EXISTS FOR (o:Opportunity) REQUIRE o.key IS UNIQUE",
    "CREATE INDEX push_state IF NOT EXISTS FOR (p:Push) ON (p.state)",
    "CREATE INDEX push_namespace IF NOT EXISTS FOR (p:Push) ON (p.namespace)",
)

FULLTEXT = (
    f"CREATE FULLTEXT INDEX {FULLTEXT_INDEX} IF NOT EXISTS FOR (a:Atom) ON EACH [a.title, a.text] "
    "OPTIONS {indexConfig: {`fulltext.analyzer`: 'cjk'}}"
)


def vector_index_statement(dimensions: int) -> str:
    """The vector index over atom embeddings; ``dimensions`` comes from the embedding model."""
    if not 1 <= dimensions <= 4096:
        raise ConfigError(f"embedding dimensions must be 1..4096, got {dimensions}")
    return (
        f"CREATE VECTOR INDEX {VECTOR_INDEX} IF NOT EXISTS FOR (a:Atom) ON a.embedding "
        f"OPTIONS {{indexConfig: {{`vector.dimensions`: {int(dimensions)}, "
        "`vector.similarity_function`: 'cosine'}}"
    )


def ensure_schema(driver: Driver, database: str, dimensions: int) -> None:
    """Create constraints and indexes when absent; refuse a vector index of other dimensions."""
    for statement in (*CONSTRAINTS, FULLTEXT, vector_index_statement(dimensions)):
        driver.execute_query(statement, database_=database)
    records, _, _ = driver.execute_query(queries.SHOW_INDEXES, database_=database)
    for record in records:
        if record["name"] != VECTOR_INDEX:
            continue
        existing = record["options"]["indexConfig"]["vector.dimensions"]
        if int(existing) != dimensions:
            raise ConfigError(
                f"The vector index {VECTOR_INDEX} has {existing} dimensions but the embedding "
                f"model has {dimensions}. Drop it (DROP INDEX {VECTOR_INDEX}) and re-run "
                "`skg index sync`, or configure the model it was built with."
            )
    logger.info("schema ready (vector index: %d dimensions)", dimensions)
