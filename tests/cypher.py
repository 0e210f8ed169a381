"""Raw Cypher for the integration tests' set-up and inspection only.

The application reaches Neo4j through the store's methods (all its Cypher is in
``kg/queries.py``); tests that must look at or bend the graph directly use this helper.
"""

from __future__ import annotations

from typing import Any

import neo4j

from kg.neo4j_store import Neo4jGraphStore


def cypher(store: Neo4jGraphStore, query: str, **params: Any) -> list[neo4j.Record]:
    """Run one statement in its own transaction and return its records."""
    return store._run(query, **params)
