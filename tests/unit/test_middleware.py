"""The service middleware on a tiny app: request ids, body limits (declared and streamed),
timeouts, and the one error shape."""

import asyncio
import io
import logging

import pytest
from fastapi import FastAPI, Request, UploadFile
from fastapi.testclient import TestClient
from pydantic import BaseModel

from api import errors
from api.context import LOG_FORMAT, RequestIdFilter
from api.middleware import ServiceMiddleware

pytestmark = pytest.mark.unit


class Item(BaseModel):
    text: str


@pytest.fixture
def client():
    app = FastAPI()
    errors.install(app)

    @app.post("/item")
    def item(body: Item) -> dict[str, int]:
        return {"chars": len(body.text)}

    @app.post("/upload")
    def upload(file: UploadFile) -> dict[str, int]:
        return {"bytes": len(file.file.read())}

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, int]:
        return {"bytes": len(await request.body())}

    @app.get("/slow")
    async def slow() -> dict[str, str]:
        await asyncio.sleep(5)
        return {"done": "yes"}

    app.add_middleware(ServiceMiddleware, body_limit=lambda path: 100, timeout_s=0.2)
    return TestClient(app)


def test_every_response_carries_a_request_id(client):
    first = client.post("/echo", content=b"x")
    assert first.json() == {"bytes": 1} and len(first.headers["X-Request-ID"]) == 16
    assert (
        client.post("/echo", content=b"x").headers["X-Request-ID"] != first.headers["X-Request-ID"]
    )
    given = client.post("/echo", content=b"x", headers={"X-Request-ID": "crm-42"})
    assert given.headers["X-Request-ID"] == "crm-42"
    unsafe = client.post("/echo", content=b"x", headers={"X-Request-ID": "a b\tc"})
    assert unsafe.headers["X-Request-ID"] != "a b\tc"


def test_a_declared_body_over_the_limit_is_413(client):
    response = client.post("/echo", content=b"x" * 101)
    assert response.status_code == 413 and response.json()["code"] == "payload_too_large"


def test_a_streamed_body_over_the_limit_is_413(client):
    def chunks():
        for _ in range(10):
            yield b"x" * 50

    response = client.post("/echo", content=chunks())  # chunked: no Content-Length
    assert response.status_code == 413 and response.json()["code"] == "payload_too_large"


@pytest.mark.parametrize(
    ("path", "content_type"),
    [("/item", "application/json"), ("/upload", "multipart/form-data; boundary=b")],
)
def test_a_streamed_body_over_the_limit_is_413_where_fastapi_reads_it(client, path, content_type):
    """FastAPI reads the body itself for a model or a form and turns whatever breaks into
    "400 error parsing the body"; the limit must still answer 413."""

    def chunks():
        yield (
            b'{"text": "'
            if path == "/item"
            else b'--b\r\nContent-Disposition: form-data; name="file"; filename="f"\r\n\r\n'
        )
        for _ in range(10):
            yield b"x" * 50

    response = client.post(path, content=chunks(), headers={"Content-Type": content_type})
    assert response.status_code == 413 and response.json()["code"] == "payload_too_large"


def test_a_slow_request_times_out_with_504(client):
    response = client.get("/slow")
    assert response.status_code == 504
    body = response.json()
    assert body["code"] == "timeout" and body["request_id"] == response.headers["X-Request-ID"]


def test_log_lines_carry_the_request_id(client):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.addFilter(RequestIdFilter())
    access = logging.getLogger("api.access")
    access.addHandler(handler)
    access.setLevel(logging.INFO)
    try:
        client.post("/echo", content=b"x", headers={"X-Request-ID": "trace-7"})
    finally:
        access.removeHandler(handler)
    assert "[trace-7] POST /echo 200" in stream.getvalue()


def test_a_path_cannot_forge_or_split_an_access_log_line(client):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    access = logging.getLogger("api.access")
    access.addHandler(handler)
    access.setLevel(logging.INFO)
    try:
        client.get("/x%0AGET%20/admin%20200%201.0%20ms", headers={"X-Request-ID": "trace-8"})
        client.get("/客户/宁德时代")
    finally:
        access.removeHandler(handler)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2, lines
    assert lines[0].startswith(r"GET /x\x0aGET\x20/admin\x20200\x201.0\x20ms 404 ")
    assert lines[1].startswith("GET /客户/宁德时代 404 ")


@pytest.mark.parametrize("every", [0, 3])
def test_a_connection_is_closed_after_so_many_requests(every):
    """keepalive_requests: the n-th response on a connection says ``Connection: close`` (the
    test client is one connection), then counting starts again; 0 never closes."""
    app = FastAPI()

    @app.get("/ping")
    def ping() -> dict[str, str]:
        return {"ok": "yes"}

    app.add_middleware(
        ServiceMiddleware, body_limit=lambda path: 100, timeout_s=1, keepalive_requests=every
    )
    client = TestClient(app)
    closed = [client.get("/ping").headers.get("connection") == "close" for _ in range(7)]
    expected = [(i + 1) % every == 0 for i in range(7)] if every else [False] * 7
    assert closed == expected
