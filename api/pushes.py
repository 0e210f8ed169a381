"""Delivering pushes to the configured webhook, in a background thread.

Each push is a Neo4j ``Push`` node (``kg/queries.py``), so deliveries survive a restart: the
worker claims due pushes under a lease, POSTs each body to the one webhook the operator
configured (``SKG_PUSH_WEBHOOK_URL``; no API call can name another address), signed with
HMAC-SHA256 over the body (``X-SKG-Signature: sha256=<hex>``, secret
``SKG_PUSH_WEBHOOK_SECRET``), and records the outcome. A 2xx delivers; a timeout, a
connection failure, 408, 429 or 5xx is retried after ``backoff(attempt)`` (exponential, capped)
until ``max_attempts``; any other status fails at once (the receiver refused it). A worker that
dies mid-delivery leaves its lease to run out, and the push is sent again: receivers drop
repeats by ``X-SKG-Push-Id`` (at-least-once; a push is never created twice, see dedup keys in
``api/push_rules.py``).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import uuid
from dataclasses import dataclass

import httpx
from neo4j.exceptions import DriverError, Neo4jError

from api.push_rules import DEFAULT_RULES
from api.settings import Settings
from kg.errors import GraphUnavailableError
from kg.service_store import PushStore

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-SKG-Signature"
PUSH_ID_HEADER = "X-SKG-Push-Id"
ATTEMPT_HEADER = "X-SKG-Attempt"
RETRYABLE = frozenset({408, 425, 429})


def sign(secret: str, body: bytes) -> str:
    """The signature header's value: ``sha256=`` and the hex HMAC-SHA256 of the body."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str) -> bool:
    """What a receiver does: compare in constant time."""
    return hmac.compare_digest(sign(secret, body), header)


def backoff(attempt: int, base_s: float, cap_s: float) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1, 2, …): base, 2×base,
    4×base…, at most ``cap_s``."""
    return min(cap_s, base_s * 2 ** max(0, attempt - 1))


@dataclass(frozen=True)
class Webhook:
    url: str
    secret: str
    timeout_s: float = 5.0
    max_attempts: int = 6
    backoff_base_s: float = 5.0
    backoff_cap_s: float = 600.0


@dataclass(frozen=True)
class Outcome:
    state: str  # delivered, pending (to retry) or failed
    status: int | None = None
    error: str | None = None
    retry_s: float | None = None


def outcome(webhook: Webhook, attempt: int, status: int | None, error: str | None) -> Outcome:
    """What one delivery attempt means: delivered, retry later, or failed for good."""
    if status is not None and 200 <= status < 300:
        return Outcome("delivered", status)
    retryable = status is None or status in RETRYABLE or status >= 500
    if retryable and attempt < webhook.max_attempts:
        delay = backoff(attempt, webhook.backoff_base_s, webhook.backoff_cap_s)
        return Outcome("pending", status, error, delay)
    return Outcome("failed", status, error)


class PushWorker:
    """Delivers due pushes; one per server process (claims keep them from sending twice)."""

    def __init__(
        self,
        store: PushStore,
        webhook: Webhook,
        *,
        poll_s: float = 1.0,
        lease_s: float = 60.0,
        batch: int = 20,
    ) -> None:
        self._store = store
        self._webhook = webhook
        self._poll_s = poll_s
        self._lease_s = max(lease_s, webhook.timeout_s * 2)
        self._batch = batch
        self.worker_id = "pushes-" + uuid.uuid4().hex[:12]
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._client = httpx.Client(timeout=webhook.timeout_s, follow_redirects=False)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="push-worker", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Look for due pushes now (a push was just created)."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=self._webhook.timeout_s + 5)
        self._client.close()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                busy = self.run_once()
            except GraphUnavailableError as exc:
                logger.warning("push deliveries wait for Neo4j: %s", exc)
                busy = 0
            except (Neo4jError, DriverError):  # the thread must outlive one bad statement
                logger.exception("push deliveries: a Neo4j error; trying again")
                busy = 0
            if not busy:
                self._wake.wait(self._poll_s)
                self._wake.clear()

    def run_once(self) -> int:
        """Deliver the pushes due now; how many were attempted."""
        claimed = self._store.claim_pushes(self.worker_id, self._batch, self._lease_s)
        for push in claimed:
            if self._stop.is_set():
                break  # the lease runs out and another start sends it
            self._deliver(push["id"], push["payload"], int(push["attempts"]))
        return len(claimed)

    def _deliver(self, push_id: str, payload: str, attempt: int) -> None:
        body = payload.encode("utf-8")
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(self._webhook.secret, body),
            PUSH_ID_HEADER: push_id,
            ATTEMPT_HEADER: str(attempt),
            "User-Agent": "SalesKG-push/1",
        }
        status: int | None = None
        error: str | None = None
        try:
            response = self._client.post(self._webhook.url, content=body, headers=headers)
            status = response.status_code
            if status >= 300:
                error = f"HTTP {status}"
        except httpx.HTTPError as exc:  # only the kind: texts may name the webhook's address
            error = type(exc).__name__
        result = outcome(self._webhook, attempt, status, error)
        if result.state == "delivered":
            logger.info("push %s delivered (attempt %d)", push_id, attempt)
        else:
            logger.warning("push %s attempt %d: %s; %s", push_id, attempt, error, result.state)
        self._store.finish_push(
            push_id,
            self.worker_id,
            result.state,
            status=result.status,
            error=result.error,
            retry_s=result.retry_s,
        )


def start(settings: Settings, store: PushStore) -> PushWorker | None:
    """At start-up: write the default push rules on the first start, and start delivering
    when a webhook is configured (without one, pushes are kept and listed, not sent)."""
    seeded = store.seed_push_rules([r.model_dump(mode="json") for r in DEFAULT_RULES])
    if seeded:
        logger.info("push rules: %d defaults written", seeded)
    if not settings.push_webhook_url or settings.push_webhook_secret is None:
        logger.info("no push webhook configured (SKG_PUSH_WEBHOOK_URL): pushes are only listed")
        return None
    worker = PushWorker(
        store,
        Webhook(
            url=settings.push_webhook_url,
            secret=settings.push_webhook_secret.get_secret_value(),
            timeout_s=settings.push_webhook_timeout,
            max_attempts=settings.push_max_attempts,
            backoff_base_s=settings.push_retry_base_seconds,
            backoff_cap_s=settings.push_retry_max_seconds,
        ),
        poll_s=settings.push_poll_seconds,
    )
    worker.start()
    return worker
