"""`skg serve`, `skg keys create|list|revoke`, `skg openapi`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from api import assembly
from api.cli.common import console, err
from api.cli.root import app, keys_app
from api.keys import ApiKeys
from api.settings import Settings
from kg.access import Scope


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="127.0.0.1, or 0.0.0.0 for phones on the LAN.")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option()] = 8000,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=16,
            help="Processes, each with its own models (about 2.3 GB). Default: 2, or 1 on a "
            "single core (measured on 2 cores: 31.8 vs 17.7 requests/s, docs/benchmarks.md).",
        ),
    ] = None,
) -> None:
    """Run the HTTP API and the reps' page (/app/; OpenAPI docs at /docs)."""
    import os

    import uvicorn

    workers = workers or min(2, os.cpu_count() or 1)

    if workers > 1:
        # Each worker's encoder (and torch, FAISS) would start one thread per core; several
        # workers' thread teams then fight over the cores (measured with torch: 84 vs 55 ms of
        # CPU per request on 2 cores). One thread each; docs/benchmarks.md "Encoders".
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        os.environ.setdefault("SKG_ENCODER_THREADS", "1")

    from api.context import LOGGING

    console.print(f"SalesKG on http://{host}:{port}  (page /app/, API docs /docs)")
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=LOGGING,
        access_log=False,  # api.access logs each request with its id
    )


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Argument(help="Who or what uses it, e.g. crm-销售易 or 刘晓薇.")],
    scope: Annotated[
        list[Scope] | None,
        typer.Option("--scope", "-s", help="Repeat for several. Default: search and ask."),
    ] = None,
    team: Annotated[str | None, typer.Option(help="Sees atoms visible to this team.")] = None,
    user: Annotated[str | None, typer.Option(help="Sees this person's private atoms.")] = None,
) -> None:
    """Create an API key. The key is printed once, on the last line; only its hash is kept."""
    scopes = [s.value for s in scope or (Scope.SEARCH, Scope.ASK)]
    store = assembly.open_store(Settings())
    try:
        record, key = ApiKeys(store).create(name, scopes, team, user)
    finally:
        store.close()
    err.print(
        f"created key {record.id} for {record.name!r}: scopes {', '.join(record.scopes)}"
        f"{f', team {record.team}' if record.team else ''}"
        f"{f', user {record.user}' if record.user else ''}. Store it now; it is not shown again."
    )
    print(key)


@keys_app.command("list")
def keys_list() -> None:
    """Every key: id, name, scopes, team, user, created, last used, revoked."""
    store = assembly.open_store(Settings())
    try:
        records = ApiKeys(store).list()
    finally:
        store.close()
    table = Table("id", "name", "scopes", "team", "user", "created", "last used", "revoked")
    for r in records:
        table.add_row(
            r.id,
            r.name,
            ",".join(r.scopes),
            r.team or "",
            r.user or "",
            f"{r.created_at:%Y-%m-%d %H:%M}",
            f"{r.last_used_at:%Y-%m-%d %H:%M}" if r.last_used_at else "",
            f"{r.revoked_at:%Y-%m-%d %H:%M}" if r.revoked_at else "",
        )
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The id `skg keys list` shows.")],
) -> None:
    """Revoke a key; a running server refuses it within SKG_AUTH_CACHE_SECONDS."""
    store = assembly.open_store(Settings())
    try:
        revoked = ApiKeys(store).revoke(key_id)
    finally:
        store.close()
    if not revoked:
        err.print(f"no active key {key_id!r}")
        raise typer.Exit(1)
    console.print(f"revoked {key_id}")


@app.command()
def openapi(
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Default: stdout.")] = None,
) -> None:
    """Write the API's OpenAPI schema (for client generators, see docs/api.md)."""
    from api.app import create_app

    schema = json.dumps(create_app(Settings()).openapi(), ensure_ascii=False, indent=2)
    if output:
        output.write_text(schema + "\n", encoding="utf-8")
        err.print(f"wrote {output}")
    else:
        print(schema)
