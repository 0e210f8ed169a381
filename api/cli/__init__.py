"""`skg`: the command line of SalesKG, one module per group of commands."""

from api.cli import (  # noqa: F401  (registers commands)
    ask_cmds,
    brief_cmds,
    eval_cmds,
    ingest_cmds,
    mcp_cmds,
    report_cmds,
    service_cmds,
    setup_cmds,
)
from api.cli.root import app, main

__all__ = ["app", "main"]
