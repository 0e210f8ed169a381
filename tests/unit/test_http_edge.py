"""The HTTP edge of the real app (routes, dependencies, error mapping, schema), with the
services the lifespan would build replaced by small stand-ins: bounds, content types, unknown
fields, unparsable bodies, 405's Allow, 5xx bodies that keep the server's internals to the
log, rate limits, the published schema, and docs pages that work offline."""

from __future__ import annotations

import logging
import re
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from api.app import create_app
from api.schemas import EventCreate
from api.settings import Settings
from kg.access import Scope, Viewer
from kg.errors import AuthenticationError, GraphUnavailableError, IndexNotReadyError

pytestmark = pytest.mark.unit

KEYS = {
    "skg_0000000a_reader": Viewer("0000000a", "reader", frozenset({Scope.SEARCH, Scope.ASK})),
    "skg_0000000b_other": Viewer("0000000b", "other", frozenset({Scope.SEARCH})),
    "skg_0000000c_ingest": Viewer("0000000c", "ingest", frozenset({Scope.INGEST})),
    "skg_0000000d_admin": Viewer("0000000d", "admin", frozenset({Scope.ADMIN})),
}
LEAKY = (
    "Neo4j at bolt://10.20.30.40:7687 cannot be reached (Couldn't connect to "
    "graph-1.corp.internal:7687 (resolved to ('10.20.30.40:7687',)): [Errno 111] Connection "
    "refused). Start it with `skg neo4j start` or check NEO4J_URI."
)


class Keys:
    def verify(self, key: str) -> Viewer:
        if key not in KEYS:
            raise AuthenticationError("API 密钥无效 (unknown API key)")
        return KEYS[key]


class Store:
    """Answers the reads these tests make; ``down`` makes every read fail as Neo4j does."""

    def __init__(self) -> None:
        self.down = False
        self.calls: list[tuple[str, Any]] = []

    def find_entities(self, *args: Any, **kwargs: Any) -> tuple[list, int]:
        self._read("find_entities", args)
        return [], 0

    def atoms(self, *args: Any, **kwargs: Any) -> list:
        self._read("atoms", args)
        return []

    def contributions(self, *args: Any, **kwargs: Any) -> list:
        self._read("contributions", kwargs)
        return []

    def _read(self, name: str, args: Any) -> None:
        if self.down:
            raise GraphUnavailableError(LEAKY)
        self.calls.append((name, args))


class Jobs:
    def list(self, *args: Any, **kwargs: Any) -> tuple[list, int]:
        return [], 0


class Services(SimpleNamespace):
    @property
    def current(self) -> None:
        """No index: a request that passed validation ends in 503 index_not_ready."""
        raise IndexNotReadyError("no index")


def make_client(**overrides: Any) -> tuple[TestClient, Store]:
    settings = Settings(_env_file=None, **overrides)
    app = create_app(settings)
    store = Store()
    # What the lifespan would build; the lifespan itself (Neo4j, models) is not run.
    app.state.services = Services(settings=settings, keys=Keys(), store=store)
    app.state.jobs = Jobs()
    app.state.refresher = SimpleNamespace(poke=lambda: None)
    return TestClient(app, raise_server_exceptions=False), store


@pytest.fixture
def client() -> TestClient:
    return make_client()[0]


def auth(key: str = "skg_0000000a_reader") -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def assert_error(response, status: int, code: str) -> dict[str, str]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"code", "message", "message_en", "detail", "request_id"}
    assert body["code"] == code, body
    return body


# -- 1. bounded offsets --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "key"),
    [("/v1/entities", "skg_0000000a_reader"), ("/v1/ingest/jobs", "skg_0000000c_ingest")],
)
def test_offsets_have_an_upper_bound(path, key):
    client, _ = make_client()
    huge = client.get(path, params={"offset": 2**63 - 1}, headers=auth(key))
    assert "offset" in assert_error(huge, 422, "invalid_request")["detail"]
    assert client.get(path, params={"offset": 100_001}, headers=auth(key)).status_code == 422
    assert client.get(path, params={"offset": 100_000}, headers=auth(key)).status_code == 200


def test_every_offset_and_limit_in_the_schema_is_bounded(client):
    schema = client.get("/openapi.json").json()
    for path, item in schema["paths"].items():
        for operation in item.values():
            for p in operation.get("parameters", []):
                if p["name"] in {"offset", "limit", "top_k"}:
                    assert "maximum" in p["schema"], (path, p["name"])
    for name in ("SearchRequest", "AskRequest"):
        for field, spec in schema["components"]["schemas"][name]["properties"].items():
            if field in {"offset", "top_k"}:
                assert "maximum" in spec, (name, field)


# -- 2. the schema documents what is sent ---------------------------------------------------------
def test_every_error_response_in_the_schema_is_an_error_body(client):
    schema = client.get("/openapi.json").json()
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    assert "ValidationError" not in schema["components"]["schemas"]
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            assert {"500", "504"} <= set(responses), (method, path)
            if "requestBody" in operation:
                assert {"413", "415", "422"} <= set(responses), (method, path)
            if operation.get("security"):
                assert {"401", "403", "429"} <= set(responses), (method, path)
                assert "Retry-After" in responses["429"]["headers"]
            for status, response in responses.items():
                if int(status) < 400 or (path, status) == ("/readyz", "503"):
                    continue
                ref = response["content"]["application/json"]["schema"]["$ref"]
                assert ref == "#/components/schemas/ErrorBody", (method, path, status)


# -- 3. bodies that cannot be read are 422 with a reason ----------------------------------------
@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b'{"query": "x"', "JSON"),
        (b'{"query": "\xff\xfe"}', "UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, "nested"),
    ],
    ids=["malformed", "bad-utf8", "deep"],
)
def test_unreadable_json_is_422_with_a_useful_detail(body, says):
    client, _ = make_client(max_json_bytes=1_000_000)
    response = client.post(
        "/v1/search", content=body, headers={**auth(), "Content-Type": "application/json"}
    )
    assert says in assert_error(response, 422, "invalid_request")["detail"]


def test_a_broken_multipart_form_is_422(client):
    response = client.post(
        "/v1/ask/voice",
        content=b"--zzz\r\nnot a part",
        headers={**auth(), "Content-Type": "multipart/form-data; boundary=zzz"},
    )
    assert_error(response, 422, "invalid_request")


# -- 4. a streamed body over the limit is 413 where FastAPI parses it -----------------------------
def test_a_chunked_json_body_over_the_limit_is_413(client):
    def chunks():
        yield b'{"query": "'
        for _ in range(64):
            yield "热" * 5000
        yield b'"}'

    response = client.post(
        "/v1/search",
        content=(c.encode() if isinstance(c, str) else c for c in chunks()),
        headers={**auth(), "Content-Type": "application/json"},
    )
    assert "65536" in assert_error(response, 413, "payload_too_large")["detail"]


# -- 5. 405 says what is allowed -------------------------------------------------------------------
def test_method_not_allowed_has_the_allow_header(client):
    response = client.get("/v1/search", headers=auth())
    assert_error(response, 405, "method_not_allowed")
    assert response.headers["Allow"] == "POST"
    # Every method of the path, not only its first route's (found by the fuzz): GET and PUT.
    response = client.options("/v1/push-rules", headers=auth())
    assert_error(response, 405, "method_not_allowed")
    assert response.headers["Allow"] == "GET, PUT"
    response = client.delete("/v1/conversations/conv-1", headers=auth())
    assert response.headers["Allow"] == "GET"


# -- 6. JSON operations take JSON --------------------------------------------------------------
@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"],
)
def test_json_operations_refuse_other_content_types_with_415(client, content_type):
    headers = auth() | ({"Content-Type": content_type} if content_type else {})
    response = client.post("/v1/search", content=b'{"query": "x"}', headers=headers)
    body = assert_error(response, 415, "unsupported_media_type")
    assert "application/json" in body["detail"] and "Content-Type" in body["message"]


def test_json_with_a_json_suffix_type_is_accepted_and_uploads_need_multipart(client):
    response = client.post(
        "/v1/search",
        content=b'{"query": "x", "top_k": 0}',
        headers={**auth(), "Content-Type": "application/vnd.saleskg+json; charset=utf-8"},
    )
    assert_error(response, 422, "invalid_request")  # read as JSON: top_k is out of range
    voice = client.post("/v1/ask/voice", json={"audio": "x"}, headers=auth())
    assert "multipart/form-data" in assert_error(voice, 415, "unsupported_media_type")["detail"]


# -- 7. unknown fields are named, not ignored -------------------------------------------------
@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/search", {"q": "热失控"}, "q"),
        ("/v1/ask", {"question": "热失控", "topk": 3}, "topk"),
        ("/v1/feedback", {"kind": "helpful", "atom_id": "a", "atomid": "b"}, "atomid"),
    ],
)
def test_unknown_fields_are_refused_by_name(client, path, body, field):
    detail = assert_error(client.post(path, json=body, headers=auth()), 422, "invalid_request")
    assert f"'{field}' is not a field" in detail["detail"]


@pytest.mark.parametrize("top_k", ["5", True, 5.5])
def test_numbers_must_be_json_integers(client, top_k):
    response = client.post("/v1/search", json={"query": "x", "top_k": top_k}, headers=auth())
    assert "top_k" in assert_error(response, 422, "invalid_request")["detail"]


@pytest.mark.parametrize("stream", [1, 0, "true", "false", None])
def test_stream_must_be_a_json_boolean(client, stream):
    chat = {"model": "saleskg", "messages": [{"role": "user", "content": "热失控"}]}
    for path, body in (("/v1/ask", {"question": "热失控"}), ("/v1/chat/completions", chat)):
        response = client.post(path, json={**body, "stream": stream}, headers=auth())
        assert "stream" in assert_error(response, 422, "invalid_request")["detail"], path
    # true and false pass validation (and find no index in this app)
    ok = client.post("/v1/ask", json={"question": "热失控", "stream": False}, headers=auth())
    assert_error(ok, 503, "index_not_ready")


@pytest.mark.parametrize("occurred_at", [0, 1700000000, 1.5e9, True])
def test_an_event_time_is_an_iso_string(occurred_at):
    event = {
        "kind": "note",
        "customer": "宁德时代",
        "opportunity_id": "OPP-1",
        "occurred_at": occurred_at,
    }
    with pytest.raises(ValidationError, match="ISO 8601"):
        EventCreate.model_validate(event)
    at = EventCreate.model_validate({**event, "occurred_at": "2026-12-01T09:30:00+08:00"})
    assert at.occurred_at is not None and at.occurred_at.hour == 9


@pytest.mark.parametrize("entities", [[""], ["customer:"], ["x" * 101], ["宁德"] * 21])
def test_entities_must_name_something(client, entities):
    response = client.post("/v1/search", json={"entities": entities}, headers=auth())
    assert "entities" in assert_error(response, 422, "invalid_request")["detail"]


def test_an_integral_json_number_is_an_integer(client):
    response = client.post("/v1/ask", json={"question": "x", "top_k": 5.0}, headers=auth())
    assert_error(response, 503, "index_not_ready")  # past validation


def test_a_day_is_written_yyyy_mm_dd(client):
    admin = auth("skg_0000000d_admin")
    for since in ("0", "1700000000", "2026-1-1"):
        response = client.get("/v1/reports/contributions", params={"since": since}, headers=admin)
        assert "YYYY-MM-DD" in assert_error(response, 422, "invalid_request")["detail"], since
    ok = client.get("/v1/reports/contributions", params={"since": "2026-01-01"}, headers=admin)
    assert ok.status_code == 200, ok.text


def test_the_schema_says_when_a_question_or_a_target_is_needed(client):
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    for name in ("SearchRequest", "AskRequest"):
        branches = schemas[name]["anyOf"]
        assert any(b.get("properties", {}).get("entities", {}).get("minItems") for b in branches)
    targets = [b["required"] for b in schemas["FeedbackCreate"]["anyOf"]]
    assert targets == [["answer_id"], ["atom_id"]]


# -- 8. server errors keep the server's internals in the log --------------------------------------
def test_a_503_body_names_no_address_or_driver_text(caplog):
    client, store = make_client()
    store.down = True
    with caplog.at_level(logging.ERROR, logger="api.errors"):
        response = client.get("/v1/atoms/atom-1", headers=auth())
    body = assert_error(response, 503, "graph_unavailable")
    assert response.headers["Retry-After"] == "5"
    said = response.text
    for secret in ("10.20.30.40", "7687", "bolt", "corp.internal", "Errno", "NEO4J_URI"):
        assert secret not in said, secret
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "bolt://10.20.30.40:7687" in logged and body["request_id"] in logged


def test_an_unexpected_error_is_a_generic_500(caplog, monkeypatch):
    client, store = make_client()

    def broken(*args: Any) -> None:
        raise KeyError("/srv/saleskg/.skg/index/manifest.json")

    monkeypatch.setattr(store, "find_entities", broken)
    with caplog.at_level(logging.ERROR, logger="api.errors"):
        response = client.get("/v1/entities", headers=auth())
    body = assert_error(response, 500, "internal")
    assert "/srv/saleskg" not in response.text and "KeyError" not in response.text
    assert any(body["request_id"] in r.getMessage() for r in caplog.records)


# -- 9. rate limits ----------------------------------------------------------------------------
def test_a_key_over_its_rate_limit_gets_429_with_retry_after():
    client, _ = make_client(rate_limit_per_minute=6, rate_limit_burst=2)
    for _ in range(2):
        assert client.get("/v1/entities", headers=auth()).status_code == 200
    limited = client.get("/v1/entities", headers=auth())
    assert_error(limited, 429, "rate_limited")
    assert limited.headers["Retry-After"] == "10"  # 6 a minute: one token every 10 s
    other = client.get("/v1/entities", headers=auth("skg_0000000b_other"))
    assert other.status_code == 200, "each key has its own bucket"


def test_uploads_have_their_own_lower_limit():
    client, _ = make_client(upload_rate_limit_per_minute=1, upload_rate_limit_burst=1)
    files = {"audio": ("q.wav", b"", "audio/wav")}
    first = client.post("/v1/ask/voice", files=files, headers=auth())
    assert first.status_code != 429
    assert_error(client.post("/v1/ask/voice", files=files, headers=auth()), 429, "rate_limited")
    assert client.get("/v1/entities", headers=auth()).status_code == 200


def test_keyless_callers_are_limited_per_address():
    client, _ = make_client(auth_required=False, rate_limit_per_minute=60, rate_limit_burst=1)
    assert client.get("/v1/entities").status_code == 200
    assert_error(client.get("/v1/entities"), 429, "rate_limited")
    assert client.get("/v1/entities", headers=auth()).status_code == 200


def test_a_zero_rate_turns_the_limit_off():
    client, _ = make_client(rate_limit_per_minute=0, rate_limit_burst=1)
    assert all(client.get("/v1/entities", headers=auth()).status_code == 200 for _ in range(5))


# -- 10. the docs pages work offline -------------------------------------------------------------
@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_load_only_local_assets(client, page):
    response = client.get(page)
    assert response.status_code == 200 and "text/html" in response.headers["content-type"]
    urls = re.findall(r"""(?:src|href|url)\s*[:=]\s*['"]([^'"]+)['"]""", response.text)
    urls += re.findall(r"""spec-url=['"]([^'"]+)['"]""", response.text)
    assert urls, response.text
    assert not [u for u in urls if "//" in u], "every asset is served by the app itself"
    scripts = [u for u in urls if u.endswith(".js")]
    assert scripts
    for url in urls:
        asset = client.get(url)
        assert asset.status_code == 200, url
    for url in scripts:
        asset = client.get(url)
        assert "javascript" in asset.headers["content-type"] and len(asset.content) > 100_000
    assert "validator.swagger.io" not in response.text


def test_streams_declare_each_server_sent_event(client):
    # OpenAPI before 3.2 reads a text/event-stream schema as one event: an object with its
    # data, not a string (found by the fuzz, ST108).
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/v1/ask", "/v1/chat/completions"):
        stream = paths[path]["post"]["responses"]["200"]["content"]["text/event-stream"]
        assert stream["schema"]["type"] == "object" and "data" in stream["schema"]["required"]
