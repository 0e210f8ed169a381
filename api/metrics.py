"""Prometheus metrics of the service (scraped at /metrics).

Only request, answer, feedback and ingest counters: nothing that counts atoms, which a caller
could use to learn about knowledge it may not see.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

REQUESTS = Counter(
    "skg_http_requests_total",
    "HTTP requests by route template, method and status code.",
    ["route", "method", "status"],
    registry=REGISTRY,
)
LATENCY = Histogram(
    "skg_http_request_seconds",
    "HTTP request latency by route template.",
    ["route"],
    buckets=(0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
    registry=REGISTRY,
)
IN_FLIGHT = Gauge("skg_http_in_flight", "Requests being handled.", registry=REGISTRY)
ANSWERS = Counter(
    "skg_answers_total", "Answers given, by channel (text, voice).", ["channel"], registry=REGISTRY
)
EMPTY_ANSWERS = Counter(
    "skg_empty_answers_total",
    "Questions the knowledge held no reliable answer for (declined or empty).",
    registry=REGISTRY,
)
FEEDBACK = Counter("skg_feedback_total", "Feedback events by kind.", ["kind"], registry=REGISTRY)
INGEST_JOBS = Counter(
    "skg_ingest_jobs_total", "Ingest jobs finished, by state.", ["state"], registry=REGISTRY
)
INDEX_RELOADS = Counter("skg_index_reloads_total", "Search index reloads.", registry=REGISTRY)
INDEX_CHECK = Histogram(
    "skg_index_change_check_seconds",
    "The refresher's check of the graph for changes (its change feed's token).",
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
    registry=REGISTRY,
)
INDEX_UPDATE = Histogram(
    "skg_index_update_seconds",
    "Index syncs by kind: 'feed' (only what changed), 'audit' (every atom compared), "
    "'full' (rebuilt).",
    ["kind"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300),
    registry=REGISTRY,
)
INDEX_SYNCED_AT = Gauge(
    "skg_index_last_sync_timestamp_seconds",
    "When the index was last brought in step with the graph (Unix time).",
    registry=REGISTRY,
)
