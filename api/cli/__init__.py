"""`skg`: the command line of SalesKG, one module per group of commands."""

from api.cli import ask_cmds, eval_cmds, ingest_cmds, setup_cmds  # noqa: F401  (registers commands)
from api.cli.root import app, main

__all__ = ["app", "main"]
