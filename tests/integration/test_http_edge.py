"""The HTTP edge on the real stack (real Neo4j, real keys): what an outside fuzzer found,
checked where it broke. Offsets that overflowed Neo4j's SKIP, bodies FastAPI could not read,
content types, unknown fields, 405's Allow, rate limits per key, and the published schema."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.keys import ApiKeys

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def keys(store):
    make = ApiKeys(store).create
    return {
        "reader": make("edge-reader", ["search", "ask"])[1],
        "ingester": make("edge-ingest", ["ingest"], team="华东大客户部")[1],
        "limited": make("edge-limited", ["search"])[1],
    }


@pytest.fixture(scope="module")
def client(store, settings):
    edge = settings.model_copy(update={"rate_limit_per_minute": 60.0, "rate_limit_burst": 20})
    with TestClient(create_app(edge), raise_server_exceptions=False) as c:
        yield c


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.mark.parametrize(
    ("path", "who"), [("/v1/entities", "reader"), ("/v1/ingest/jobs", "ingester")]
)
def test_an_offset_past_the_bound_is_422_not_a_neo4j_overflow(client, keys, path, who):
    huge = client.get(path, params={"offset": 9223372036854775807}, headers=auth(keys[who]))
    assert huge.status_code == 422, huge.text
    assert huge.json()["code"] == "invalid_request" and "offset" in huge.json()["detail"]
    furthest = client.get(path, params={"offset": 100_000}, headers=auth(keys[who]))
    assert furthest.status_code == 200, furthest.text
    assert furthest.json()["items"] == [] and furthest.json()["next_offset"] is None


def test_json_endpoints_take_json_and_name_unknown_fields(client, keys):
    plain = client.post(
        "/v1/search",
        content='{"query": "热失控"}'.encode(),
        headers={**auth(keys["reader"]), "Content-Type": "text/plain"},
    )
    assert plain.status_code == 415 and plain.json()["code"] == "unsupported_media_type"
    typo = client.post("/v1/search", json={"q": "热失控"}, headers=auth(keys["reader"]))
    assert typo.status_code == 422 and "'q' is not a field" in typo.json()["detail"]


@pytest.mark.parametrize(
    ("body", "says"),
    [(b'{"query": "\xff"}', "UTF-8"), (b"[" * 30_000 + b"]" * 30_000, "nested")],
    ids=["bad-utf8", "deep"],
)
def test_unreadable_bodies_are_422(client, keys, body, says):
    headers = {**auth(keys["reader"]), "Content-Type": "application/json"}
    response = client.post("/v1/search", content=body, headers=headers)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "invalid_request" and says in response.json()["detail"]


def test_a_chunked_body_over_the_limit_is_413(client, keys):
    def chunks():
        yield b'{"query": "'
        for _ in range(100):
            yield b"x" * 16 * 1024  # 1.6 MB in all, with no Content-Length
        yield b'"}'

    response = client.post(
        "/v1/search",
        content=chunks(),
        headers={**auth(keys["reader"]), "Content-Type": "application/json"},
    )
    assert response.status_code == 413 and response.json()["code"] == "payload_too_large"


def test_405_says_which_methods_are_allowed(client):
    response = client.delete("/v1/search")
    assert response.status_code == 405 and response.headers["Allow"] == "POST"


def test_a_key_over_its_limit_gets_429_and_others_do_not(client, keys):
    statuses = [
        client.get("/v1/entities", params={"q": "宁德"}, headers=auth(keys["limited"])).status_code
        for _ in range(25)
    ]
    assert statuses[:20] == [200] * 20 and 429 in statuses[20:]
    limited = client.get("/v1/entities", headers=auth(keys["limited"]))
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    assert limited.json()["code"] == "rate_limited"
    assert client.get("/v1/entities", headers=auth(keys["reader"])).status_code == 200


def test_the_schema_documents_the_error_body_the_app_sends(client):
    schema = client.get("/openapi.json").json()
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    search = schema["paths"]["/v1/search"]["post"]["responses"]
    for status in ("413", "415", "422", "429"):
        assert search[status]["content"]["application/json"]["schema"]["$ref"].endswith(
            "/ErrorBody"
        )
