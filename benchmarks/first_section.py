"""How soon a streamed answer shows something: the time from sending `POST /v1/ask` (with
`Accept: text/event-stream`) to its first `section` event, on the sample knowledge, warm.

Runs the real stack: a Neo4j of its own (ports 7702/7489, home .skg/neo4j-stream-bench, the
password of benchmarks/bench_instance.py; started when it is not running and stopped again
then), emptied and loaded with data/samples, an index in a temporary folder, and
`uvicorn api.app:create_app` (one worker, as `skg serve --workers 1`) on a free port. The
golden questions are asked one after another over one kept-alive connection, after a warm-up
round. Declined questions send `declined` instead of sections and are timed apart.

    .venv/bin/python benchmarks/first_section.py [--rounds 2] [--warmup 20]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
from bench_instance import bench_settings

from api import assembly
from api.keys import ApiKeys
from ingest.pipeline import ingest_paths
from kg.neo4j_store import connect
from retrieval.index.sync import sync_index

ROOT = Path(__file__).resolve().parents[1]
STARTUP_S = 180
BOLT, HTTP = 7702, 7489  # this benchmark's own instance: emptying it touches no one's data


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(settings, index: Path, port: int, log: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SKG_", "NEO4J_"))}
    env.update(
        PYTHONPATH=str(ROOT),
        SKG_HOME=str(settings.home),
        NEO4J_PASSWORD=settings.password(),
        SKG_NEO4J_BOLT_PORT=str(settings.neo4j_bolt_port),
        SKG_NEO4J_HTTP_PORT=str(settings.neo4j_http_port),
        SKG_NEO4J_HOME=str(settings.neo4j_home_path),
        SKG_INDEX_DIR=str(index),
        SKG_INDEX_REFRESH_SECONDS="0",
        SKG_RATE_LIMIT_PER_MINUTE="0",
    )
    command = [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory"]
    with log.open("wb") as out:
        return subprocess.Popen(
            [*command, "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
            cwd=log.parent,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _wait_ready(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    raise SystemExit(f"not ready within {STARTUP_S} s:\n{log.read_text()[-3000:]}")


def timed(client: httpx.Client, question: str) -> dict[str, float]:
    """Milliseconds from sending to each event's first arrival (understanding, section or
    declined, done)."""
    seen: dict[str, float] = {}
    started = time.perf_counter()
    with client.stream("POST", "/v1/ask", json={"question": question}) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if line.startswith("event: "):
                name = line[7:]
                seen.setdefault(name, (time.perf_counter() - started) * 1000)
                if name == "error":
                    raise SystemExit(f"error event for {question!r}")
    return seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=2, help="times each question is asked")
    parser.add_argument("--warmup", type=int, default=20, help="questions asked first, untimed")
    args = parser.parse_args()
    settings = bench_settings().model_copy(
        update={
            "neo4j_home": ROOT / ".skg" / "neo4j-stream-bench",
            "neo4j_bolt_port": BOLT,
            "neo4j_http_port": HTTP,
        }
    )
    server = assembly.local_server(settings)
    server.resolve()
    started_neo4j = server.start(settings.password())
    workdir = Path(tempfile.mkdtemp(prefix="skg-first-section-"))
    process = None
    try:
        driver = connect(settings.bolt_uri, settings.neo4j_user, settings.password())
        driver.execute_query("MATCH (n) DETACH DELETE n")  # its own instance: only the samples
        driver.close()
        store = assembly.open_store(settings)
        embedder = assembly.load_embedder(settings)
        report = ingest_paths([ROOT / "data" / "samples"], store)
        assert not report.failures, report.failures
        sync_index(store, embedder, workdir / "index")
        _, key = ApiKeys(store).create("bench-first-section", ["ask"])
        atoms = store.counts()["atoms"]
        store.close()
        del embedder

        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        process = _serve(settings, workdir / "index", port, workdir / "server.log")
        _wait_ready(url, process, workdir / "server.log")
        questions = [
            json.loads(line)["text"]
            for line in (ROOT / "data" / "golden" / "queries.jsonl").open(encoding="utf-8")
        ]
        headers = {"Authorization": f"Bearer {key}", "Accept": "text/event-stream"}
        with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
            for question in questions[: args.warmup]:
                timed(client, question)
            runs = [timed(client, q) for _ in range(args.rounds) for q in questions]
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=30)
        if started_neo4j:
            server.stop()

    answered = [r for r in runs if "section" in r]
    declined = [r for r in runs if "declined" in r]
    print(
        f"{len(runs)} streamed answers ({len(questions)} golden questions x {args.rounds}), "
        f"{atoms} atoms, one worker, warm"
    )

    def line(label: str, values: list[float]) -> None:
        if values:
            p50, p95 = np.percentile(values, 50), np.percentile(values, 95)
            print(f"  {label:<34} p50 {p50:6.1f} ms   p95 {p95:6.1f} ms   n={len(values)}")

    line("understanding", [r["understanding"] for r in runs])
    line("first section", [r["section"] for r in answered])
    line("declined (instead of sections)", [r["declined"] for r in declined])
    line("done", [r["done"] for r in runs])
    share = np.mean([r["section"] <= 150 for r in answered]) if answered else 0.0
    print(f"  first section within 150 ms: {share:.1%}")


if __name__ == "__main__":
    main()
