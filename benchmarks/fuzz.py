"""Fuzz the HTTP API with schemathesis (every check, every operation) on a stack of its own.

Starts a separate local Neo4j (ports 7694/7481, home .skg/neo4j-fuzz, a random password kept
in .skg/neo4j-fuzz.password), empties it, ingests data/samples and syncs a search index (in a
temporary folder), creates API keys, runs `skg serve` with one worker on a free port, and runs
schemathesis with all checks over every operation. The keys go to schemathesis as a Web
Fuzzing Commons auth file: two teams' keys (search, ask, ingest), which are also each other's
peers for the object-level authorization check (one team must never read the other's ingest
jobs), and a key with every scope for what they may not do (the contribution report).

Prints the totals (test cases, responses by status from the server's access log, failures by
schemathesis code, duration), stops the server and the Neo4j it started, and exits 1 on any
5xx or schema violation, or when fewer than --min-cases test cases ran (`--strict`: also on
any other failed check). Needs the `security` extra (`make fuzz`). Reports and the server log
are kept in .skg/fuzz/.

    .venv/bin/python benchmarks/fuzz.py --examples 300 --seed 20260101
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from api import assembly  # noqa: E402
from api.keys import ApiKeys  # noqa: E402
from api.settings import Settings  # noqa: E402
from ingest.pipeline import ingest_paths  # noqa: E402
from kg.neo4j_store import connect  # noqa: E402
from retrieval.index.sync import sync_index  # noqa: E402

BIN = Path(sys.executable).parent
SAMPLES = ROOT / "data" / "samples"
HOME = ROOT / ".skg"
SCHEMATHESIS = "4.32.5"
# Schemathesis failure codes (`st explain CODE`): ST101-ST102 a 5xx; ST103-ST111 a response
# the published schema does not describe (status, content type, headers, body).
SERVER_ERRORS = {"ST101", "ST102"}
SCHEMA_VIOLATIONS = {f"ST{n}" for n in range(103, 112)}
KEYS = (
    # name, scopes, team, user. Schemathesis tries them in this order for each operation.
    ("team-east", ["search", "ask", "ingest"], "华东大客户部", "王磊"),
    ("team-south", ["search", "ask", "ingest"], "华南渠道部", "李娜"),
    ("all-scopes", ["search", "ask", "ingest", "admin"], None, None),
)
PEERS = ("team-east", "team-south")  # must never see each other's objects
ACCESS_LINE = re.compile(r"api\.access \[[^\]]*\] (\S+) (\S+) (\d{3}) ")


def fuzz_settings(workdir: Path) -> Settings:
    """The fuzz instance: its own Neo4j home, ports and password; index and uploads in
    ``workdir`` (never the demo's)."""
    password_file = HOME / "neo4j-fuzz.password"
    if not password_file.exists():
        password_file.parent.mkdir(parents=True, exist_ok=True)
        password_file.write_text(secrets.token_urlsafe(18))
        password_file.chmod(0o600)
    return Settings(
        _env_file=None,
        home=HOME,
        neo4j_uri=None,
        neo4j_password=password_file.read_text().strip(),
        neo4j_home=HOME / "neo4j-fuzz",
        neo4j_bolt_port=7694,
        neo4j_http_port=7481,
        index_dir=workdir / "index",
        uploads_dir=workdir / "uploads",
    )


def server_env(settings: Settings) -> dict[str, str]:
    """`skg serve` reads its settings from the environment: the fuzz instance's, and rate
    limits far above what one fuzzer sends (a 429 would hide what lies behind it)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SKG_", "NEO4J_"))}
    return env | {
        "SKG_HOME": str(settings.home),
        "SKG_NEO4J_HOME": str(settings.neo4j_home_path),
        "SKG_NEO4J_BOLT_PORT": str(settings.neo4j_bolt_port),
        "SKG_NEO4J_HTTP_PORT": str(settings.neo4j_http_port),
        "NEO4J_PASSWORD": settings.password(),
        "SKG_INDEX_DIR": str(settings.index_path),
        "SKG_UPLOADS_DIR": str(settings.uploads_path),
        "SKG_RATE_LIMIT_PER_MINUTE": "1000000",
        "SKG_UPLOAD_RATE_LIMIT_PER_MINUTE": "1000000",
        "SKG_RATE_LIMIT_BURST": "100000",
        "SKG_UPLOAD_RATE_LIMIT_BURST": "100000",
    }


def prepare(settings: Settings) -> list[str]:
    """Empty the fuzz graph, ingest the samples, sync the index; the keys, plaintext."""
    driver = connect(settings.bolt_uri, settings.neo4j_user, settings.password())
    driver.execute_query("MATCH (n) DETACH DELETE n")
    driver.close()
    store = assembly.open_store(settings)
    try:
        report = ingest_paths([SAMPLES], store)
        print(f"ingested {SAMPLES.name}: {report.atoms_created} atoms", flush=True)
        sync_index(store, assembly.load_embedder(settings), settings.index_path)
        keys = ApiKeys(store)
        return [keys.create(name, scopes, team, user)[1] for name, scopes, team, user in KEYS]
    finally:
        store.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def neo4j(settings: Settings) -> Iterator[None]:
    """The fuzz Neo4j, stopped at the end if this run started it."""
    server = assembly.local_server(settings)
    server.resolve()
    started = server.start(settings.password())
    try:
        yield
    finally:
        if started:
            server.stop()


@contextmanager
def served(settings: Settings, workdir: Path) -> Iterator[str]:
    """`skg serve --workers 1` on a free port until the block ends; its base URL."""
    port = free_port()
    log = workdir / "server.log"
    command = [str(BIN / "skg"), "serve", "--port", str(port), "--workers", "1"]
    with log.open("w") as out:
        # cwd: a folder without the project's .env, so that only the fuzz settings apply.
        server = subprocess.Popen(
            command, cwd=workdir, env=server_env(settings), stdout=out, stderr=out
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            if server.poll() is not None:
                sys.exit(f"skg serve exited with {server.returncode}:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{base}/readyz", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                sys.exit(f"{base} not ready in 300 s:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(60)
        except subprocess.TimeoutExpired:
            server.kill()


def schemathesis(base: str, keys: list[str], out: Path, args: argparse.Namespace) -> dict:
    """One schemathesis run over every operation with every check; its JSON report."""
    auth = {
        "auth": [
            {"name": name, "fixedHeaders": [{"name": "Authorization", "value": f"Bearer {key}"}]}
            for (name, *_), key in zip(KEYS, keys, strict=True)
        ]
    }
    auth_file = out / "auth.json"
    auth_file.write_text(json.dumps(auth, ensure_ascii=False))
    auth_file.chmod(0o600)
    config = out / "schemathesis.toml"
    config.write_text(f'[auth.wfc]\npath = "{auth_file}"\npeers = {json.dumps(list(PEERS))}\n')
    report = out / "report.json"
    command = [
        str(BIN / "st"),
        "--config-file",
        str(config),
        "run",
        f"{base}/openapi.json",
        "--checks",
        "all",
        "--max-examples",
        str(args.examples),
        "--seed",
        str(args.seed),
        "--workers",
        "1",
        "--generation-database",
        "none",
        "--request-timeout",
        "120",
        "--continue-on-failure",
        "--no-color",
        "--report",
        "json",
        "--report-json-path",
        str(report),
    ]
    subprocess.run(command, cwd=out, check=False)
    auth_file.unlink()  # the keys die with the fuzz graph; no need to keep them
    return json.loads(report.read_text())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=300, help="per operation and phase")
    parser.add_argument("--seed", type=int, default=20260101)
    parser.add_argument("--min-cases", type=int, default=5000, help="fail if fewer ran")
    parser.add_argument("--strict", action="store_true", help="fail on any failed check")
    parser.add_argument("--out", type=Path, default=HOME / "fuzz", help="reports and logs")
    args = parser.parse_args()
    import schemathesis as st  # the security extra

    if st.__version__ != SCHEMATHESIS:
        print(f"warning: schemathesis {st.__version__}, not the pinned {SCHEMATHESIS}")
    started = time.monotonic()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="skg-fuzz-") as tmp:
        workdir = Path(tmp)
        settings = fuzz_settings(workdir)
        with neo4j(settings):
            keys = prepare(settings)
            with served(settings, workdir) as base:
                report = schemathesis(base, keys, args.out, args)
            shutil.copy(workdir / "server.log", args.out / "server.log")
    return summarise(report, args.out / "server.log", time.monotonic() - started, args)


def machine() -> str:
    """CPU model, cores and memory, as benchmarks report them."""
    cpu, memory = platform.machine(), ""
    with contextlib.suppress(OSError):
        names = re.findall(r"model name\s*: (.+)", Path("/proc/cpuinfo").read_text())
        cpu = names[0] if names else cpu
        kib = re.search(r"MemTotal:\s+(\d+) kB", Path("/proc/meminfo").read_text())
        memory = f", {int(kib.group(1)) / 2**20:.0f} GiB" if kib else ""
    return f"{cpu}, {os.cpu_count()} cores{memory}"


def summarise(report: dict, server_log: Path, seconds: float, args: argparse.Namespace) -> int:
    """Print the totals; the exit status (1: a 5xx, a schema violation, or too few cases)."""
    cases = report["test_cases"]["generated"]
    statuses: Counter[str] = Counter()
    for line in server_log.read_text(errors="replace").splitlines():
        match = ACCESS_LINE.search(line)
        if match:
            statuses[match.group(3)] += 1
    failures = {f["code"]: f for f in report["failures"]}
    server_errors = sum(n for s, n in statuses.items() if s.startswith("5"))
    violations = sum(failures[c]["count"] for c in failures if c in SCHEMA_VIOLATIONS)
    print("\n== SalesKG fuzz totals")
    print(f"schemathesis {report['schemathesis_version']}, all checks, seed {report['seed']}")
    print(f"operations tested: {report['operations']['tested']} of {report['operations']['total']}")
    print(f"test cases: {cases} ({args.examples} examples per operation and phase)")
    print(f"requests by status: {dict(sorted(statuses.items()))} ({statuses.total()} in all)")
    print(f"5xx responses: {server_errors}; schema violations: {violations}")
    for code, failure in sorted(failures.items()):
        operations = ", ".join(failure["operations"])
        print(f"  {code} {failure['title']}: {failure['count']} ({operations})")
    print(f"errors: {len(report['errors'])}")
    print(f"duration: {seconds / 60:.1f} min")
    print(f"machine: {machine()}")
    print(f"date: {datetime.now().astimezone():%Y-%m-%d %H:%M %Z}")
    bad = server_errors or violations or any(c in SERVER_ERRORS for c in failures)
    bad = bad or report["errors"] or (args.strict and failures)
    if cases < args.min_cases:
        print(f"FAIL: {cases} test cases, fewer than {args.min_cases}")
        return 1
    print("FAIL" if bad else "OK: no 5xx, no schema violation")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
