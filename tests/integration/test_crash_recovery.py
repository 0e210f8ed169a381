"""Crashes lose nothing: Neo4j killed (-9) at three points of an ingest, and the server killed
(-9) during an upload job, end, after a restart and a rerun, with exactly the nodes and
relationships of every type (derived ones included: near-duplicate links, entity
candidates, embeddings) that a clean run makes.

Runs its own Neo4j (ports 7697/7484, home .skg/neo4j-crash) so the kills never touch the
other tests' graph.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from api import assembly
from api.keys import ApiKeys
from ingest.pipeline import IngestOptions, ingest_paths
from kg.errors import GraphUnavailableError
from kg.neo4j_store import Neo4jGraphStore, connect
from retrieval.index.sync import check_drift, sync_index
from tests.conftest import ROOT, SAMPLES, TEST_HOME

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BOLT, HTTP = 7697, 7484
SKG = str(Path(sys.executable).parent / "skg")
# A corpus of every format, with a near-twin document so that duplicate links exist.
FILES = [
    "cases/catl-thermal-runaway.md",
    "cases/byd-bms-cloud-early-warning.md",
    "cases/energy-storage-fire-safety.md",
    "cases/geely-welding-predictive-maintenance.docx",
    "cases/jingchuan-eu-grid-certification.pdf",
    "postmortems/battery-thermal-runaway-overpromise.md",
    "postmortems/xingchi-bms-thermal-warning-lost.md",
    "postmortems/kangze-payment-terms-lost.docx",
    "glossary/battery-energy-storage-terms.md",
    "glossary/terms.csv",
    "customers/customers.csv",
    "crm/opportunity-notes.jsonl",
]


@pytest.fixture(scope="module")
def crash_settings(settings, tmp_path_factory):
    return settings.model_copy(
        update={
            "neo4j_home": TEST_HOME / "neo4j-crash",
            "neo4j_bolt_port": BOLT,
            "neo4j_http_port": HTTP,
            "index_dir": tmp_path_factory.mktemp("crash-index"),
            "uploads_dir": tmp_path_factory.mktemp("crash-uploads"),
        }
    )


@pytest.fixture(scope="module")
def server(crash_settings) -> Iterator:
    server = assembly.local_server(crash_settings)
    server.resolve()
    server.start(crash_settings.password())
    yield server
    server.stop()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("crash") / "corpus"
    for name in FILES:
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(SAMPLES / name, target)
    twin = (SAMPLES / "cases" / "catl-thermal-runaway.md").read_text(encoding="utf-8")
    (folder / "cases" / "catl-thermal-runaway-v2.md").write_text(
        twin.replace("2025年4月", "2025年5月"), encoding="utf-8"
    )
    return folder


def open_store(settings) -> Neo4jGraphStore:
    return assembly.open_store(settings)


def wipe(settings) -> None:
    driver = connect(settings.bolt_uri, settings.neo4j_user, settings.password())
    driver.execute_query("MATCH (n) DETACH DELETE n")
    driver.close()


def counts(settings) -> dict[str, int]:
    """Every label and relationship type, and atoms with an embedding (jobs, keys and the push
    rules a server seeds at its first start aside)."""
    driver = connect(settings.bolt_uri, settings.neo4j_user, settings.password())
    try:
        labels, _, _ = driver.execute_query(
            "MATCH (n) UNWIND labels(n) AS label RETURN label, count(*) AS n"
        )
        types, _, _ = driver.execute_query("MATCH ()-[r]->() RETURN type(r) AS t, count(*) AS n")
        embedded, _, _ = driver.execute_query(
            "MATCH (a:Atom) WHERE a.embedding IS NOT NULL RETURN count(a) AS n"
        )
    finally:
        driver.close()
    found = {f"label:{r['label']}": r["n"] for r in labels}
    found |= {f"rel:{r['t']}": r["n"] for r in types}
    found["embedded atoms"] = embedded[0]["n"]
    return {
        k: v
        for k, v in found.items()
        if k not in {"label:IngestJob", "label:ApiKey", "label:PushRule", "label:PushRuleSet"}
    }


def kill_neo4j(server) -> None:
    pid = server.pid()
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while server.pid() is not None and time.monotonic() < deadline:
        time.sleep(0.2)


def ingest_and_sync(settings, embedder, corpus, **options) -> None:
    store = open_store(settings)
    try:
        report = ingest_paths([corpus], store, IngestOptions(**options))
        assert report.failures == []
        sync_index(store, embedder, settings.index_path)
    finally:
        store.close()


@pytest.fixture(scope="module")
def clean(server, crash_settings, embedder, corpus) -> dict[str, int]:
    wipe(crash_settings)
    ingest_and_sync(crash_settings, embedder, corpus)
    found = counts(crash_settings)
    assert found.get("rel:DUPLICATE_OF", 0) > 0, found  # derived data is part of the check
    assert found.get("label:EntityCandidate", 0) > 0, found
    return found


def killer(server, stage: str, nth: int = 1) -> Callable[[str], None]:
    seen = {"n": 0}

    def on_stage(name: str) -> None:
        if name == stage:
            seen["n"] += 1
            if seen["n"] == nth:
                kill_neo4j(server)

    return on_stage


@pytest.mark.parametrize(
    ("stage", "nth"),
    [
        ("batch", 2),  # between two transactions of atoms
        ("atoms", 1),  # every atom committed, derived data not yet (the probe's case)
    ],
)
def test_neo4j_killed_during_ingest(server, crash_settings, embedder, corpus, clean, stage, nth):
    wipe(crash_settings)
    store = open_store(crash_settings)
    with pytest.raises(GraphUnavailableError):
        ingest_paths(
            [corpus],
            store,
            IngestOptions(batch_atoms=40),
            on_stage=killer(server, stage, nth),
        )
    store.close()
    server.start(crash_settings.password())
    if stage == "atoms":
        store = open_store(crash_settings)
        underived = store.underived_documents()
        store.close()
        assert underived, "the graph knows the run's derived data is incomplete (index check)"
    ingest_and_sync(crash_settings, embedder, corpus)
    assert counts(crash_settings) == clean


def test_neo4j_killed_during_the_index_sync(server, crash_settings, embedder, corpus, clean):
    wipe(crash_settings)
    store = open_store(crash_settings)
    assert ingest_paths([corpus], store).failures == []

    def on_batch(done: int, total: int) -> None:
        if done >= 64:
            kill_neo4j(server)

    with pytest.raises(GraphUnavailableError):
        sync_index(store, embedder, crash_settings.index_path, on_batch=on_batch)
    store.close()
    server.start(crash_settings.password())
    ingest_and_sync(crash_settings, embedder, corpus)
    assert counts(crash_settings) == clean
    store = open_store(crash_settings)
    try:
        assert check_drift(store, crash_settings.index_path).sound
    finally:
        store.close()


# -- the server killed during an upload job ------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(settings, port: int, workers: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "SKG_HOME": str(TEST_HOME),
        "NEO4J_PASSWORD": settings.password(),
        "SKG_NEO4J_HOME": str(settings.neo4j_home_path),
        "SKG_NEO4J_BOLT_PORT": str(BOLT),
        "SKG_NEO4J_HTTP_PORT": str(HTTP),
        "SKG_INDEX_DIR": str(settings.index_path),
        "SKG_UPLOADS_DIR": str(settings.uploads_path),
        "SKG_INDEX_REFRESH_SECONDS": "0",
    }
    env.pop("NEO4J_URI", None)
    return subprocess.Popen(
        [SKG, "serve", "--port", str(port), "--workers", str(workers)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def wait_ready(port: int, timeout_s: float = 240) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/livez", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"the server on port {port} did not start")


def port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def test_server_killed_during_a_job_resumes_it_and_its_workers_leave_the_port(
    server, crash_settings, embedder, corpus, tmp_path
):
    """kill -9 of ``skg serve``'s supervisor: its two workers stop within seconds (the port is
    free for a new server), the restarted server finishes the job from its saved uploads, the
    job reports success, its uploads are removed, and the graph matches a clean run."""
    flat = tmp_path / "flat"
    flat.mkdir()
    for path in corpus.rglob("*"):
        if path.is_file():
            shutil.copy(path, flat / path.name)
    wipe(crash_settings)
    ingest_and_sync(crash_settings, embedder, flat, collection="上传")
    clean_flat = counts(crash_settings)
    wipe(crash_settings)
    shutil.rmtree(crash_settings.index_path, ignore_errors=True)

    store = open_store(crash_settings)
    # An admin key uploads as the organisation, so the documents are those of the clean run.
    key = ApiKeys(store).create("crash", ["admin", "ingest", "search"])[1]
    store.close()
    port = free_port()
    first = serve(crash_settings, port, workers=2)
    try:
        wait_ready(port)
        files = [("files", (p.name, p.read_bytes())) for p in sorted(flat.iterdir())]
        response = httpx.post(
            f"http://127.0.0.1:{port}/v1/ingest",
            files=files,
            data={"collection": "上传", "visibility": "public"},
            headers={"Authorization": f"Bearer {key}"},
            timeout=60,
        )
        assert response.status_code == 202, response.text
        job_id = response.json()["id"]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            job = httpx.get(
                f"http://127.0.0.1:{port}/v1/ingest/jobs/{job_id}",
                headers={"Authorization": f"Bearer {key}"},
            ).json()
            if job["state"] == "running":
                break
            time.sleep(0.1)
        os.kill(first.pid, signal.SIGKILL)  # the supervisor only
        first.wait(timeout=10)
        deadline = time.monotonic() + 40
        while not port_free(port) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert port_free(port), "the workers kept serving after their supervisor died"
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    assert (crash_settings.uploads_path / job_id).is_dir(), "uploads are kept for the restart"

    second = serve(crash_settings, port, workers=1)
    try:
        wait_ready(port)
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            job = httpx.get(
                f"http://127.0.0.1:{port}/v1/ingest/jobs/{job_id}",
                headers={"Authorization": f"Bearer {key}"},
            ).json()
            if job["state"] in {"succeeded", "failed"}:
                break
            time.sleep(1)
        assert job["state"] == "succeeded", job
        assert not (crash_settings.uploads_path / job_id).exists()
    finally:
        os.killpg(second.pid, signal.SIGTERM)
        second.wait(timeout=60)
    assert counts(crash_settings) == clean_flat
