"""The benchmarks' own local Neo4j instance (ports 7689/7476, home .skg/neo4j-bench), so that
a benchmark that empties its graph never touches the demo's or the tests' data."""

from __future__ import annotations

import secrets
from pathlib import Path

from api.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def bench_settings() -> Settings:
    """Settings for the benchmark instance, with its own generated password."""
    password_file = ROOT / ".skg" / "neo4j-bench.password"
    if not password_file.exists():
        password_file.parent.mkdir(parents=True, exist_ok=True)
        password_file.write_text(secrets.token_urlsafe(18))
    return Settings(
        _env_file=None,
        home=ROOT / ".skg",
        neo4j_uri=None,
        neo4j_password=password_file.read_text().strip(),
        neo4j_home=ROOT / ".skg" / "neo4j-bench",
        neo4j_bolt_port=7689,
        neo4j_http_port=7476,
    )
