"""Around every request: an id, body-size limits, a timeout, an access log line and metrics,
and a connection closed after so many requests.

A plain ASGI middleware (not ``BaseHTTPMiddleware``) so that bodies stream through untouched
and a timeout can answer 504 while the handler is still running.

Why close connections: the workers of ``skg serve`` share one listening socket, and a worker
that wakes first accepts every connection waiting. Clients that keep their connections open
(a CRM plug-in's pool, locust's users) then all sit on one worker: 19 of 20 in a load test,
which used one core of two. Closed after ``keepalive_requests`` (as nginx's
``keepalive_requests``), a client reconnects, and the worker free to accept first takes it.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable

import anyio
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import metrics
from api.context import set_request_id
from api.errors import TIMEOUT, error_response, problem_for
from kg.errors import PayloadTooLargeError

logger = logging.getLogger("api.access")

_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# In a path as logged: control characters (a decoded %0A would start a forged log line),
# spaces (they would split the access line's fields) and backslashes (the escape itself).
_UNSAFE_IN_LOG = re.compile(r"[\x00-\x20\x7f-\x9f\\\u2028\u2029]")
MAX_LOGGED_PATH = 300
MAX_TRACKED_CONNECTIONS = 10_000


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def loggable(path: str) -> str:
    """A request path fit for one log line: unsafe characters escaped (``\\x0a``), at most
    300 characters; Chinese names stay readable."""
    escaped = _UNSAFE_IN_LOG.sub(_escape, path)
    # A lone surrogate (from undecodable bytes) could not be written to the log at all.
    escaped = escaped.encode("utf-8", "backslashreplace").decode("utf-8")
    return escaped if len(escaped) <= MAX_LOGGED_PATH else escaped[:MAX_LOGGED_PATH] + "…"


class ServiceMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        body_limit: Callable[[str], int],
        timeout_s: float,
        keepalive_requests: int = 0,
    ) -> None:
        self.app = app
        self.body_limit = body_limit  # path -> largest body accepted
        self.timeout_s = timeout_s
        self.keepalive_requests = keepalive_requests  # 0: connections are never closed
        self._served: dict[tuple[str, int], int] = {}  # requests per client connection

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        given = headers.get("x-request-id", "")
        rid = given if _SAFE_ID.match(given) else uuid.uuid4().hex[:16]
        set_request_id(rid)
        started = time.perf_counter()
        status = 500
        response_started = False
        extra = [(b"x-request-id", rid.encode())]
        if self._last_on_connection(scope):
            extra.append((b"connection", b"close"))

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], *extra]
            await send(message)

        limit = self.body_limit(scope["path"])
        declared = headers.get("content-length", "")
        metrics.IN_FLIGHT.inc()
        try:
            if declared.isdigit() and int(declared) > limit:
                await self._reply(_too_large(limit), scope, receive, send_with_id)
                return
            received = 0

            async def limited_receive() -> Message:
                nonlocal received
                message = await receive()
                received += len(message.get("body", b""))
                if received > limit:
                    raise PayloadTooLargeError(_too_large_text(limit))
                return message

            with anyio.move_on_after(self.timeout_s) as deadline:
                await self.app(scope, limited_receive, send_with_id)
            if deadline.cancelled_caught and not response_started:
                logger.warning("timed out after %.0f s", self.timeout_s)
                await self._reply(
                    error_response(TIMEOUT, f"超过 {self.timeout_s:.0f} 秒"),
                    scope,
                    receive,
                    send_with_id,
                )
        finally:
            metrics.IN_FLIGHT.dec()
            elapsed = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", "unmatched")
            metrics.REQUESTS.labels(route, scope["method"], str(status)).inc()
            metrics.LATENCY.labels(route).observe(elapsed)
            logger.info(
                "%s %s %d %.1f ms", scope["method"], loggable(scope["path"]), status, elapsed * 1000
            )

    def _last_on_connection(self, scope: Scope) -> bool:
        """Whether this request is the last its connection serves (``keepalive_requests``)."""
        client = scope.get("client")
        if not self.keepalive_requests or not client:
            return False
        if len(self._served) > MAX_TRACKED_CONNECTIONS:  # closed connections' counts
            self._served.clear()
        key = (client[0], client[1])
        served = self._served.get(key, 0) + 1
        if served >= self.keepalive_requests:
            self._served.pop(key, None)
            return True
        self._served[key] = served
        return False

    @staticmethod
    async def _reply(response: Response, scope: Scope, receive: Receive, send: Send) -> None:
        await response(scope, receive, send)


def _too_large_text(limit: int) -> str:
    return f"请求内容超过上限 {limit} 字节 (the body is over {limit} bytes)"


def _too_large(limit: int) -> Response:
    return error_response(problem_for(PayloadTooLargeError()), _too_large_text(limit))
