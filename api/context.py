"""The current request's id, for logs and error bodies."""

from __future__ import annotations

import logging
from contextvars import ContextVar

_request_id: ContextVar[str] = ContextVar("request_id", default="-")


def request_id() -> str:
    return _request_id.get()


def set_request_id(value: str) -> None:
    _request_id.set(value)


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to every log record (use ``%(request_id)s`` in formats)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id.get()
        return True


LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"

# For uvicorn (`skg serve`), which applies it in every worker process.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "api.context.RequestIdFilter"}},
    "formatters": {"default": {"format": LOG_FORMAT}},
    "handlers": {
        "stderr": {
            "class": "logging.StreamHandler",
            "formatter": "default",
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["stderr"], "level": "INFO"},
    # Neo4j notes "index already exists" at INFO. (bm25s and jieba set their own loggers'
    # levels when imported, after this is applied: retrieval/retrievers/lexical.py and
    # quiet_jieba below quieten them.)
    "loggers": {"neo4j": {"level": "WARNING"}},
}


def quiet_jieba() -> None:
    """jieba logs its dictionary loading at DEBUG on a stderr handler of its own, which it sets
    up when imported; raise it to WARNING (the CLI and each server worker call this once)."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
