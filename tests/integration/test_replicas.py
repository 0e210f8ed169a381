"""Two `skg serve` replicas (as on two hosts: each its own process, port and index folder) share
one Neo4j through a routing URI (``neo4j://``); an edit made in Cypher reaches search on both,
each keeping its own index current from the graph's change feed (issue 15)."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api.keys import ApiKeys
from ingest.pipeline import ingest_paths
from retrieval.index.sync import sync_index
from tests.conftest import ROOT, SAMPLES, wipe_graph
from tests.integration.pages import SERVER_COMMAND, free_port, stop, wait_ready

pytestmark = pytest.mark.integration

STARTUP_S = 180
EDIT_DEADLINE_S = 30.0
WORD = "玄武岩协议"  # in no sample


@pytest.fixture(scope="module")
def graph(store, embedder, settings, tmp_path_factory):
    wipe_graph(settings)
    assert ingest_paths([SAMPLES], store).failures == []
    # Embed once here (the vectors are stored on the atoms): the replicas then build their
    # indexes from the graph without embedding anything, as a new host does.
    sync_index(store, embedder, tmp_path_factory.mktemp("seed") / "index")
    return store


@pytest.fixture(scope="module")
def api_key(graph) -> str:
    return ApiKeys(graph).create("replica-test", ["search"])[1]


def _start(settings, folder: Path) -> tuple[subprocess.Popen, str, Path]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SKG_", "NEO4J_"))}
    env.update(
        SKG_HOME=str(ROOT / ".skg"),
        # A routing URI, as for a cluster or Aura: the driver asks the server for its routing
        # table (a single server routes to itself).
        NEO4J_URI=f"neo4j://127.0.0.1:{settings.neo4j_bolt_port}",
        NEO4J_PASSWORD=settings.password(),
        SKG_INDEX_DIR=str(folder / "index"),
        SKG_UPLOADS_DIR=str(folder / "uploads"),
        SKG_INDEX_REFRESH_SECONDS="1",
        SKG_INDEX_AUDIT_SECONDS="0",  # the change feed alone must carry the edit
        PYTHONPATH=str(ROOT),
    )
    log = folder / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*SERVER_COMMAND, "--port", str(port)],
            cwd=folder,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return process, f"http://127.0.0.1:{port}", log


@pytest.fixture(scope="module")
def replicas(graph, settings, tmp_path_factory) -> Iterator[list[str]]:
    started = [_start(settings, tmp_path_factory.mktemp(f"replica{i}")) for i in range(2)]
    try:
        for process, url, log in started:
            wait_ready(url, process, log, STARTUP_S)
        yield [url for _, url, _ in started]
    finally:
        for process, _, _ in started:
            stop(process, timeout_s=30)


def _hits(url: str, key: str, query: str) -> list[str] | None:
    response = httpx.post(
        url + "/v1/search",
        json={"query": query, "top_k": 10},
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )
    if response.status_code == 503:  # no index yet: the replica is still building its own
        return None
    assert response.status_code == 200, response.text
    return [h["atom"]["id"] for h in response.json()["hits"]]


def _eventually(condition, what: str, deadline_s: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < deadline_s:
        if condition():
            return time.monotonic() - started
        time.sleep(0.25)
    raise AssertionError(f"not within {deadline_s:.0f} s: {what}")


def test_an_edit_in_cypher_reaches_search_on_both_replicas(graph, replicas, api_key):
    for url in replicas:  # each replica built its own index from the shared graph
        _eventually(lambda url=url: _hits(url, api_key, "热失控"), f"{url} serves", STARTUP_S)
    records, _, _ = graph._driver.execute_query(
        "MATCH (a:Atom) WHERE a.status <> 'deprecated' AND a.visibility = 'public' "
        "WITH a ORDER BY a.id LIMIT 1 "
        "SET a.text = a.text + $add, a.version = a.version + 1, a.updated_at = datetime(), "
        "a.embedding = null RETURN a.id AS id",
        parameters_={"add": f"{WORD}约定每季度复测一次。"},
    )
    atom_id = records[0]["id"]
    took = [
        _eventually(
            lambda url=url: atom_id in (_hits(url, api_key, WORD) or [])[:3],
            f"the edit reaches search on {url}",
            EDIT_DEADLINE_S,
        )
        for url in replicas
    ]
    assert max(took) < EDIT_DEADLINE_S
