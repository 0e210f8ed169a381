"""The project-managed Neo4j: really started, really answering, schema in place."""

import urllib.request

import pytest

from api import assembly
from kg.errors import GraphAuthError
from kg.neo4j_store import connect
from kg.schema import FULLTEXT_INDEX, VECTOR_INDEX

pytestmark = pytest.mark.integration


def test_server_runs_neo4j_526_community_with_apoc(store, settings):
    info = store.server_info()
    assert info["Neo4j Kernel"] == "5.26.19 community"
    assert info["APOC"].startswith("5.26")
    status = assembly.local_server(settings).status()
    assert status.running and status.pid
    assert status.log_path.exists()


def test_browser_is_served(store, settings):
    url = f"http://127.0.0.1:{settings.neo4j_http_port}/browser/"
    with urllib.request.urlopen(url, timeout=10) as resp:
        assert resp.status == 200
        assert "neo4j" in resp.read().decode("utf-8", "replace").lower()


def test_schema_is_idempotent_with_cjk_fulltext_and_vector_index(store, settings):
    store.ensure_schema(settings.embedding_dimensions)
    store.ensure_schema(settings.embedding_dimensions)
    records, _, _ = store._driver.execute_query(
        "SHOW INDEXES YIELD name, type, options RETURN name, type, options"
    )
    indexes = {r["name"]: r for r in records}
    assert indexes[FULLTEXT_INDEX]["options"]["indexConfig"]["fulltext.analyzer"] == "cjk"
    assert indexes[VECTOR_INDEX]["options"]["indexConfig"]["vector.dimensions"] == 384
    constraints, _, _ = store._driver.execute_query("SHOW CONSTRAINTS YIELD name RETURN name")
    assert {"atom_id", "document_id", "entity_id"} <= {r["name"] for r in constraints}


def test_wrong_password_is_a_clear_error(store, settings):
    with pytest.raises(GraphAuthError, match="password is wrong"):
        connect(settings.bolt_uri, settings.neo4j_user, "definitely-not-the-password")


def test_starting_again_reuses_the_running_server(store, settings):
    server = assembly.local_server(settings)
    pid = server.pid()
    assert server.start(settings.password()) is False
    assert server.pid() == pid
