"""The `skg` Typer app, its sub-apps, and the console entry point."""

from __future__ import annotations

import logging
import sys
from typing import Annotated

import typer
from neo4j.exceptions import DriverError, Neo4jError
from pydantic import ValidationError

from api.cli.common import err
from api.context import quiet_jieba
from api.filemodes import restrict_new_files
from kg.errors import SkgError

app = typer.Typer(
    help="SalesKG 销售知识图谱: ingest sales knowledge, ask it questions.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
neo4j_app = typer.Typer(help="The project-managed local Neo4j server.", no_args_is_help=True)
models_app = typer.Typer(help="The offline embedding and speech models.", no_args_is_help=True)
index_app = typer.Typer(help="The search indexes: dense, lexical, graph.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys of the HTTP service.", no_args_is_help=True)
report_app = typer.Typer(help="Reports for sales leaders and enablement.", no_args_is_help=True)
app.add_typer(neo4j_app, name="neo4j")
app.add_typer(models_app, name="models")
app.add_typer(index_app, name="index")
app.add_typer(keys_app, name="keys")
app.add_typer(report_app, name="report")


@app.callback()
def _main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log more.")] = False,
) -> None:
    level = logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    quiet_jieba()  # its DEBUG lines stay hidden at either level


def main() -> None:
    """Console entry point: friendly errors instead of tracebacks."""
    restrict_new_files()
    try:
        app()
    except SkgError as exc:
        err.print(f"[red]error:[/red] {exc}", markup=True, highlight=False)
        sys.exit(1)
    except ValidationError as exc:
        err.print(f"[red]invalid settings:[/red] {exc}", markup=True, highlight=False)
        sys.exit(2)
    except (DriverError, Neo4jError) as exc:  # a driver failure outside the store's mapping
        err.print(
            f"[red]error:[/red] Neo4j failed: {exc}. Check `skg neo4j status`, then rerun the "
            "same command: ingest and sync pick up where they stopped.",
            markup=True,
            highlight=False,
        )
        sys.exit(1)
