"""Search and ask under load: 20 concurrent clients in a second process against `skg serve`.

Needs the demo state (`make demo`: the local Neo4j with the samples ingested, the index in
step). Starts `skg serve` on a free port and waits for /readyz, creates an API key when `skg
keys` exists (revoked at the end), warms up for --warmup seconds, then runs locust
(`benchmarks/locustfile.py`) headless for each pacing: `paced` (0.5-1.5 s between a user's
requests) and `none` (no wait: the throughput ceiling). Prints requests, failures, req/s and
p50/p95/p99/max per endpoint; the CPU of the server, Neo4j and locust, and the server's peak
RSS; the machine and the date. Exits 1 if any request failed. Locust rounds times of 100 ms and
more to 2 significant digits.

    .venv/bin/python benchmarks/load_test.py --users 20 --duration 60
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
LOCUSTFILE = Path(__file__).with_name("locustfile.py")
SPAWNED = "All users spawned"  # locust logs this when the ramp-up ends; --reset-stats fires then


def skg(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "skg"), *args], cwd=ROOT, capture_output=True, text=True)


def check_demo_state() -> str:
    """`skg index check` reaches Neo4j and compares it with the index: both must be there.
    Returns the number of atoms, from `skg neo4j status`."""
    result = skg("index", "check")
    if result.returncode != 0:
        sys.exit(
            f"{result.stdout}{result.stderr}\nThe load test needs the demo state: run `make demo`"
            " (or `.venv/bin/skg neo4j start` if only Neo4j is stopped), then try again."
        )
    atoms = re.search(r"\batoms\W+(\d+)", skg("neo4j", "status").stdout)
    return atoms.group(1) if atoms else "?"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def served(args, key: str) -> Iterator[tuple[str, int | None]]:
    """`skg serve` on a free port until the block ends, or the server at --url (not stopped):
    its base URL and its pid (known where we started it, or from --server-pid)."""
    if args.url:
        base = args.url.rstrip("/")
        wait_ready(base, key, None, None)
        yield base, args.server_pid
        return
    port = args.port or free_port()
    command = [str(BIN / "skg"), "serve", "--port", str(port)]
    if args.workers is not None:
        command += ["--workers", str(args.workers)]
    # 20 clients share one key: the per-key rate limit would answer 429 to most of them.
    env = dict(os.environ) | {"SKG_RATE_LIMIT_PER_MINUTE": "0"}
    if args.torch_threads is not None:  # torch sizes its intra-op pool from these at import
        env |= {
            "OMP_NUM_THREADS": str(args.torch_threads),
            "MKL_NUM_THREADS": str(args.torch_threads),
        }
    log = args.out / "server.log"
    with log.open("w") as out:
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=out)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_ready(base, key, server, log)
        yield base, server.pid
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()


def wait_ready(base: str, key: str, server: subprocess.Popen | None, log: Path | None):
    """Poll /readyz until Neo4j, the index and the models are ready."""
    headers = {"Authorization": f"Bearer {key}"}
    deadline, last = time.monotonic() + 180, "no answer"
    while time.monotonic() < deadline:
        if server and server.poll() is not None:
            sys.exit(f"skg serve exited with {server.returncode}:\n{log.read_text()[-3000:]}")
        try:
            ready = httpx.get(f"{base}/readyz", headers=headers, timeout=10)
            if ready.status_code == 200:
                return
            last = f"{ready.status_code} {ready.text[:300]}"
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    tail = f"\n{log.read_text()[-3000:]}" if log else ""
    sys.exit(f"{base} not ready within 180 s (last: {last}){tail}")


@contextmanager
def api_key() -> Iterator[str]:
    """A key with the search and ask scopes, revoked afterwards. `skg keys create` prints the
    key last; the key is `skg_<id>_<secret>`."""
    name = f"load-test-{datetime.now(UTC):%Y%m%d-%H%M%S}"
    result = skg("keys", "create", name, "--scope", "search", "--scope", "ask")
    if result.returncode != 0:
        sys.exit(f"`skg keys create` failed:\n{result.stdout}{result.stderr}")
    key = result.stdout.strip().splitlines()[-1]
    try:
        yield key
    finally:
        key_id = key.split("_")[1] if key.startswith("skg_") else None
        revoked = key_id and skg("keys", "revoke", key_id).returncode == 0
        print(f"API key {name}: {'revoked' if revoked else 'NOT revoked, see `skg keys list`'}")


def tree_usage(pid: int) -> tuple[float, int]:
    """CPU seconds and RSS bytes of a process and its children (the workers)."""
    root = psutil.Process(pid)
    times, memory = root.cpu_times(), root.memory_info()  # raises once the process is gone
    cpu, rss = times.user + times.system, memory.rss
    for child in root.children(recursive=True):
        try:
            times, memory = child.cpu_times(), child.memory_info()
        except psutil.NoSuchProcess:
            continue
        cpu += times.user + times.system
        rss += memory.rss
    return cpu, rss


def machine_busy() -> tuple[float, float]:
    t = psutil.cpu_times()
    total = sum(t)
    return total - t.idle - getattr(t, "iowait", 0.0), total


class Sampler(threading.Thread):
    """CPU of the server (with its workers), Neo4j, locust and the whole machine every half
    second, from the end of the ramp-up until locust exits; the server's peak RSS."""

    def __init__(self, pids: dict[str, int], started: threading.Event) -> None:
        super().__init__(daemon=True)
        self.pids, self.started = pids, started
        self.samples: list[tuple[float, dict[str, float], int, float, float]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        self.started.wait()
        while not self.stop.is_set():
            try:
                usage = {name: tree_usage(pid) for name, pid in self.pids.items()}
            except psutil.NoSuchProcess:  # locust has exited
                break
            busy, total = machine_busy()
            cpu = {name: u[0] for name, u in usage.items()}
            rss = usage["server"][1] if "server" in usage else 0
            self.samples.append((time.monotonic(), cpu, rss, busy, total))
            self.stop.wait(0.5)

    def summary(self) -> str:
        if len(self.samples) < 2:
            return "resources: too few samples"
        (t0, c0, _, b0, n0), (t1, c1, _, b1, n1) = self.samples[0], self.samples[-1]
        cores = ", ".join(f"{name} {(c1[name] - c0[name]) / (t1 - t0):.2f}" for name in c0)
        peak = max(s[2] for s in self.samples) / 2**20
        busy = 100 * (b1 - b0) / (n1 - n0)
        rss = f"; server peak RSS {peak:.0f} MB" if peak else ""
        return f"CPU cores used: {cores}; machine {busy:.0f}% busy{rss}"


def neo4j_pid() -> int | None:
    """The local Neo4j's JVM, to show its share of the CPU (None for an external Neo4j)."""
    from api.settings import Settings

    pid_file = ROOT / Settings().neo4j_home_path / "run" / "skg-neo4j.pid"
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if psutil.pid_exists(pid) else None


def run_locust(args, base, pacing: str, seconds: int, csv_prefix: Path | None, env, server):
    command = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
        "-u", str(args.users), "-r", str(args.users), "-t", f"{seconds}s", "--host", base,
        "--think-time", pacing, "--questions", args.questions, "--only-summary", "--reset-stats",
    ]  # fmt: skip
    if csv_prefix:
        command += ["--csv", str(csv_prefix)]
    log = (csv_prefix or args.out / "warmup").with_suffix(".log")
    locust = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    spawned = threading.Event()
    pids = {"server": server, "neo4j": neo4j_pid(), "locust": locust.pid}
    sampler = Sampler({k: v for k, v in pids.items() if v}, spawned)
    sampler.start()
    with log.open("w") as out:
        for line in locust.stdout:
            out.write(line)
            if SPAWNED in line:
                spawned.set()
    locust.wait()
    sampler.stop.set()
    spawned.set()
    sampler.join()
    return locust.returncode, sampler, log


def report(pacing: str, prefix: Path) -> int:
    """Print the rows of one run; return the number of failed requests."""
    with prefix.with_name(prefix.name + "_stats.csv").open() as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        name = row["Name"] if row["Name"] != "Aggregated" else "all"
        print(
            f"{pacing:<6} {name:<11} {row['Request Count']:>8} {row['Failure Count']:>8} "
            f"{float(row['Requests/s']):>7.1f} {row['50%']:>7} {row['95%']:>7} "
            f"{row['99%']:>7} {float(row['Max Response Time']):>7.0f}"
        )
    with prefix.with_name(prefix.name + "_failures.csv").open() as f:
        for failure in csv.DictReader(f):
            print(f"  FAILED {failure['Occurrences']}x {failure['Name']}: {failure['Error']}")
    total = next(r for r in rows if r["Name"] == "Aggregated")
    return int(total["Failure Count"]) + (int(total["Request Count"]) == 0)


def describe_machine() -> str:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    load = "/".join(f"{x:.1f}" for x in os.getloadavg())
    memory = psutil.virtual_memory().total / 2**30
    return (
        f"{model}, {psutil.cpu_count()} cores, {memory:.0f} GiB, Python "
        f"{platform.python_version()}; load average {load} before the start"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--duration", type=int, default=60, help="measured seconds per pacing")
    parser.add_argument("--warmup", type=int, default=10, help="seconds, not measured")
    parser.add_argument("--think-time", choices=["paced", "none", "both"], default="both")
    parser.add_argument(
        "--questions",
        choices=["fresh", "repeat"],
        default="fresh",
        help="fresh: a random tag on each question, so no cache answers (see locustfile.py)",
    )
    parser.add_argument("--port", type=int, default=0, help="0: a free port")
    parser.add_argument("--url", help="measure this running server instead of starting one")
    parser.add_argument("--server-pid", type=int, help="with --url: for its CPU and RSS")
    parser.add_argument("--workers", type=int, help="passed to `skg serve --workers`")
    parser.add_argument("--torch-threads", type=int, help="OMP_NUM_THREADS for the server")
    parser.add_argument("--out", type=Path, help="folder for the CSVs and logs")
    args = parser.parse_args()
    args.out = args.out or Path(tempfile.mkdtemp(prefix="skg-load-"))
    args.out.mkdir(parents=True, exist_ok=True)
    pacings = ["paced", "none"] if args.think_time == "both" else [args.think_time]

    atoms = "?" if args.url else check_demo_state()
    failed = 0
    with api_key() as key, served(args, key) as (base, server):
        env = dict(os.environ) | {"SKG_API_KEY": key}
        print(f"SalesKG load test, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
        print(f"machine: {describe_machine()}")
        print(
            f"server: {base}, workers {args.workers or 'default'}, torch threads "
            f"{args.torch_threads or 'default'}, {atoms} atoms; auth: bearer key"
        )
        print(
            f"locust: {args.users} users, search:ask 3:1, top_k 8, {args.questions} questions, "
            f"{args.warmup} s warm-up, "
            f"{args.duration} s measured per pacing; CSVs and logs in {args.out}\n"
        )
        rc, _, log = run_locust(args, base, "none", args.warmup, None, env, server)
        if rc != 0:  # a failure while warming up is a failure too
            print(f"warm-up: locust exited {rc}:\n{log.read_text()[-3000:]}")
            failed += 1
        print(
            f"{'pacing':<6} {'endpoint':<11} {'requests':>8} {'failures':>8} {'req/s':>7} "
            f"{'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'max ms':>7}"
        )
        for pacing in pacings:
            prefix = args.out / pacing
            rc, sampler, log = run_locust(args, base, pacing, args.duration, prefix, env, server)
            if rc not in (0, 1):  # 1: some requests failed; anything else: locust itself
                print(f"{pacing}: locust exited {rc}:\n{log.read_text()[-3000:]}")
                failed += 1
                continue
            failed += report(pacing, prefix)
            print(f"  {sampler.summary()}")
    if failed:
        sys.exit(f"\n{failed} failed requests (or runs): see the FAILED lines and {args.out}")


if __name__ == "__main__":
    main()
