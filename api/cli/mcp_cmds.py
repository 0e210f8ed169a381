"""`skg mcp`: SalesKG as an MCP server for agents, over stdio or streamable HTTP."""

from __future__ import annotations

import contextlib
import sys
from typing import Annotated

import typer

from api import assembly
from api.cli.common import err
from api.cli.root import app
from api.keys import ApiKeys
from api.ratelimit import RateLimits
from api.settings import Settings
from kg.errors import ConfigError


@app.command()
def mcp(
    http: Annotated[
        bool, typer.Option("--http", help="Serve streamable HTTP at /mcp instead of stdio.")
    ] = False,
    host: Annotated[str, typer.Option(help="--http: the address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="--http: the port.")] = 8001,
    key: Annotated[
        str | None,
        typer.Option(
            envvar="SKG_API_KEY",
            show_default=False,
            help="stdio: the API key every call runs as (default: $SKG_API_KEY). Over --http "
            "each request sends its own in Authorization: Bearer.",
        ),
    ] = None,
) -> None:
    """Serve the tools search, ask, get_atom, find_entities and get_entity to MCP clients
    (Claude Desktop, IDE agents...), with the API key's scopes and visibility.

    stdio: the client runs `skg mcp` with SKG_API_KEY set.

    HTTP: `skg mcp --http --port 8001`; the endpoint is http://HOST:PORT/mcp and each request
    sends `Authorization: Bearer <key>`.
    """
    from api.mcp.server import build_server, http_app
    from api.mcp.tools import KnowledgeTools
    from api.refresh import IndexRefresher
    from api.state import Services

    settings = Settings()
    if not http:
        if not key:
            raise ConfigError(
                "skg mcp needs an API key: set SKG_API_KEY or pass --key "
                "(create one with `skg keys create NAME --scope search --scope ask`)"
            )
        _check_key(settings, key)  # before the models load: a wrong key fails at once
    # Over stdio, stdout carries the protocol: whatever loading prints goes to stderr.
    with contextlib.redirect_stdout(sys.stderr):
        services = Services.start(settings)
    refresher = IndexRefresher(
        services,
        settings.index_refresh_seconds,
        audit_s=settings.index_audit_seconds,
        save_s=settings.index_save_seconds,
    )
    limits = RateLimits.of(
        settings.rate_limit_per_minute,
        settings.rate_limit_burst,
        settings.upload_rate_limit_per_minute,
        settings.upload_rate_limit_burst,
    )
    tools = KnowledgeTools(services, refresher, limits)
    try:
        if settings.index_refresh_seconds > 0:
            refresher.start()
        if http:
            import uvicorn

            from api.context import LOGGING

            err.print(f"SalesKG MCP on http://{host}:{port}/mcp (Authorization: Bearer <key>)")
            server = http_app(build_server(tools), services.keys, host)
            uvicorn.run(server, host=host, port=port, log_config=LOGGING, access_log=False)
        else:
            build_server(tools, key).run()
    finally:
        refresher.stop()
        services.close()


def _check_key(settings: Settings, key: str) -> None:
    store = assembly.open_store(settings)
    try:
        ApiKeys(store).verify(key)
    finally:
        store.close()
