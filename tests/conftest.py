"""Shared fixtures. Integration tests run a dedicated local Neo4j (ports 7688/7475, its own
home under .skg/neo4j-test) so they never touch the demo's data; it is reused when already
running and stopped at the end when this run started it (set SKG_TEST_KEEP_NEO4J=1 to keep it)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from api import assembly
from api.settings import Settings
from kg.neo4j_store import Neo4jGraphStore, connect

ROOT = Path(__file__).resolve().parents[1]
# Outside evaluation data, frozen in the repository with its licences (data/eval/README.md).
EVAL_DATA = ROOT / "data" / "eval"
SAMPLES = ROOT / "data" / "samples"
TEST_HOME = ROOT / ".skg"
# Another port pair (SKG_TEST_BOLT_PORT, SKG_TEST_HTTP_PORT) gives a second, separate instance,
# so that two test runs on one machine never share a graph.
TEST_BOLT_PORT = int(os.environ.get("SKG_TEST_BOLT_PORT", "7688"))
TEST_HTTP_PORT = int(os.environ.get("SKG_TEST_HTTP_PORT", "7475"))
TEST_INSTANCE = TEST_HOME / (
    "neo4j-test" if TEST_BOLT_PORT == 7688 else f"neo4j-test-{TEST_BOLT_PORT}"
)


def _test_password() -> str:
    """A random password for the test instance, kept beside it (never a fixed default).

    It starts with "-" on purpose: one generated password in 64 does, and neo4j-admin once
    took such a password for an option (fresh setups failed)."""
    path = TEST_HOME / "neo4j-test.password"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("-" + secrets.token_urlsafe(18))
        path.chmod(0o600)
    return path.read_text().strip()


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        _env_file=None,
        home=TEST_HOME,
        neo4j_uri=None,
        neo4j_password=_test_password(),
        neo4j_home=TEST_INSTANCE,
        neo4j_bolt_port=TEST_BOLT_PORT,
        neo4j_http_port=TEST_HTTP_PORT,
        index_dir=tmp_path_factory.mktemp("index"),
    )


@pytest.fixture(scope="session")
def neo4j_server(settings: Settings) -> Iterator[None]:
    server = assembly.local_server(settings)
    server.resolve()
    started = server.start(settings.password())
    yield
    if started and not os.environ.get("SKG_TEST_KEEP_NEO4J"):
        server.stop()


def wipe_graph(settings: Settings) -> None:
    """Empty the test instance (never the demo's: it has its own home and ports)."""
    driver = connect(settings.bolt_uri, settings.neo4j_user, settings.password())
    driver.execute_query("MATCH (n) DETACH DELETE n")
    driver.close()


@pytest.fixture(scope="session")
def store(settings: Settings, neo4j_server: None) -> Iterator[Neo4jGraphStore]:
    """The test instance's graph, emptied at the start of the run."""
    wipe_graph(settings)
    store = assembly.open_store(settings)
    yield store
    store.close()


@pytest.fixture(scope="session")
def embedder(settings: Settings):
    return assembly.load_embedder(settings)
