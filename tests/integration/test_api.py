"""The HTTP API on the real stack: keys and scopes, visibility that holds, errors, pagination,
feedback, ingest jobs, operations endpoints, and recovery from a Neo4j outage."""

from __future__ import annotations

import io
import time
import wave

import pytest
from fastapi.testclient import TestClient

from api import assembly
from api.app import create_app
from api.keys import ApiKeys
from ingest.pipeline import ingest_paths
from retrieval.index.sync import sync_index
from tests.conftest import SAMPLES, wipe_graph

pytestmark = pytest.mark.integration

QUESTION = "如何向宁德时代解释热失控防护方案？"
TEAM = "华东大客户部"
OWNER = "王磊"
# Unique words only the hidden documents contain: any hit on them is a leak.
TEAM_SECRET = "蓝鲸计划"
PRIVATE_SECRET = "白鹭条款"

TEAM_DOC = f"""---
标题: 宁德时代热失控项目内部报价策略
客户: 宁德时代
可见范围: 团队
团队: {TEAM}
---
## 报价底线
{TEAM_SECRET}：宁德时代热失控防护方案的报价底线为标准价的八五折，低于此价格需要大区总监审批。
谈判时先讲热扩散试验数据和定向排气设计，再谈价格，不要主动让步。

## 竞品应对
{TEAM_SECRET}：如果竞品以低价云母板方案切入宁德时代，强调总拥有成本和热失控召回风险。
"""

PRIVATE_DOC = f"""---
标题: 宁德时代采购负责人沟通笔记
客户: 宁德时代
可见范围: 个人
负责人: {OWNER}
---
## 私人笔记
{PRIVATE_SECRET}：宁德时代采购负责人关注热失控防护方案的交付周期，私下提到预算在第三季度释放。
下次拜访带上热扩散试验报告，约技术负责人一起谈。
"""


@pytest.fixture(scope="module")
def api_settings(settings):
    # Revocation is checked on every request here (no cache), so a test can see it at once.
    return settings.model_copy(
        update={"auth_cache_seconds": 0.0, "cors_origins": ["https://crm.example.com"]}
    )


@pytest.fixture(scope="module")
def hidden_docs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hidden") / "内部资料"
    folder.mkdir()
    (folder / "team-pricing.md").write_text(TEAM_DOC, encoding="utf-8")
    (folder / "private-notes.md").write_text(PRIVATE_DOC, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def loaded(store, embedder, api_settings, hidden_docs):
    wipe_graph(api_settings)
    report = ingest_paths([SAMPLES, hidden_docs], store)
    assert report.failures == []
    sync_index(store, embedder, api_settings.index_path)
    return store


@pytest.fixture(scope="module")
def keys(loaded):
    api_keys = ApiKeys(loaded)
    make = api_keys.create
    return {
        "outsider": make("crm-华南", ["search", "ask"], team="华南渠道部")[1],
        "insider": make("crm-华东", ["search", "ask"], team=TEAM)[1],
        "owner": make("王磊", ["search", "ask"], user=OWNER)[1],
        "search_only": make("crm-只读", ["search"])[1],
        "ingester": make("知识运营", ["ingest", "search"], team=TEAM)[1],
        "other_ingester": make("另一个导入", ["ingest"], team="华南渠道部")[1],
        "admin": make("运维", ["admin", "ingest"])[1],
    }


@pytest.fixture(scope="module")
def client(loaded, api_settings):
    with TestClient(create_app(api_settings), raise_server_exceptions=False) as c:
        yield c


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def hidden_atom_ids(store) -> dict[str, set[str]]:
    """Atoms that are not public: ``team`` (of TEAM), ``private`` (of OWNER), ``all``."""
    records, _, _ = store._driver.execute_query(
        "MATCH (a:Atom) WHERE a.visibility <> 'public' "
        "RETURN a.id AS id, a.visibility AS visibility, a.team AS team, a.owner AS owner"
    )
    rows = [r.data() for r in records]
    return {
        "team": {r["id"] for r in rows if r["visibility"] == "team" and r["team"] == TEAM},
        "private": {r["id"] for r in rows if r["visibility"] == "private" and r["owner"] == OWNER},
        "all": {r["id"] for r in rows},
    }


def all_pages(client, key: str, body: dict, stable: bool = True) -> tuple[list[dict], int]:
    hits, offset, total = [], 0, None
    while offset is not None:
        response = client.post("/v1/search", json={**body, "offset": offset}, headers=auth(key))
        assert response.status_code == 200, response.text
        page = response.json()
        total = page["total"] if total is None or not stable else total
        assert not stable or page["total"] == total, "the total must not change between pages"
        hits += page["hits"]
        offset = page["next_offset"]
    return hits, total or 0


# -- keys and scopes ------------------------------------------------------------------------------
def test_no_key_is_401_with_a_clear_message(client):
    response = client.post("/v1/search", json={"query": QUESTION})
    assert response.status_code == 401
    body = response.json()
    assert body["code"] == "unauthorized" and "API 密钥" in body["message"]
    assert body["message_en"] and body["request_id"]
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_unknown_and_malformed_keys_are_401(client, keys):
    forged = keys["insider"][:-4] + "abcd"
    for key in (forged, "skg_00000000_" + "x" * 43, "not-a-key"):
        response = client.post("/v1/search", json={"query": QUESTION}, headers=auth(key))
        assert response.status_code == 401, key
        assert response.json()["code"] == "unauthorized"


def test_keys_are_stored_hashed(loaded, keys):
    records, _, _ = loaded._driver.execute_query("MATCH (k:ApiKey) RETURN k")
    stored = " ".join(str(dict(r["k"])) for r in records)
    for key in keys.values():
        secret = key.split("_", 2)[2]  # the secret itself may contain "_"
        assert key not in stored and secret not in stored


def test_a_missing_scope_is_403(client, keys):
    ask = {"question": QUESTION}
    response = client.post("/v1/ask", json=ask, headers=auth(keys["search_only"]))
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden" and "ask" in response.json()["detail"]
    response = client.post(
        "/v1/ingest", files={"files": ("a.md", b"x")}, headers=auth(keys["outsider"])
    )
    assert response.status_code == 403


def test_a_revoked_key_stops_working(client, loaded):
    api_keys = ApiKeys(loaded)
    record, key = api_keys.create("临时", ["search"])
    assert client.post("/v1/search", json={"query": "热失控"}, headers=auth(key)).status_code == 200
    assert api_keys.revoke(record.id)
    response = client.post("/v1/search", json={"query": "热失控"}, headers=auth(key))
    assert response.status_code == 401 and "吊销" in response.json()["detail"]


# -- visibility holds everywhere -----------------------------------------------------------
def test_hidden_atoms_exist_and_are_found_by_those_who_may_see_them(client, keys, loaded):
    hidden = hidden_atom_ids(loaded)
    assert hidden.get("team") and hidden.get("private")
    insider, _ = all_pages(client, keys["insider"], {"query": TEAM_SECRET, "top_k": 50})
    assert hidden["team"] & {h["atom"]["id"] for h in insider}
    owner, _ = all_pages(client, keys["owner"], {"query": PRIVATE_SECRET, "top_k": 50})
    assert hidden["private"] & {h["atom"]["id"] for h in owner}


@pytest.mark.parametrize("query", [TEAM_SECRET, PRIVATE_SECRET, QUESTION, ""])
def test_search_never_returns_or_counts_what_a_key_may_not_see(client, keys, loaded, query):
    hidden = hidden_atom_ids(loaded)["all"]
    body = {"query": query, "top_k": 7}
    if not query:
        body["entities"] = ["宁德时代"]
    outsider, total = all_pages(client, keys["outsider"], body)
    seen = {h["atom"]["id"] for h in outsider}
    assert not seen & hidden
    assert total == len(outsider) == len(seen), "total counts exactly the visible hits"
    assert all(TEAM_SECRET not in h["atom"]["text"] for h in outsider)
    assert all(PRIVATE_SECRET not in h["atom"]["text"] for h in outsider)


def test_filters_cannot_widen_what_a_key_sees(client, keys):
    body = {"query": QUESTION, "visibilities": ["team", "private"], "top_k": 50}
    response = client.post("/v1/search", json=body, headers=auth(keys["outsider"]))
    assert response.status_code == 200
    assert response.json()["total"] == 0 and response.json()["hits"] == []
    response = client.post("/v1/search", json=body, headers=auth(keys["insider"]))
    assert response.json()["total"] >= 1
    assert {h["atom"]["visibility"] for h in response.json()["hits"]} == {"team"}


def test_answers_and_citations_never_use_hidden_atoms(client, keys, loaded):
    hidden = hidden_atom_ids(loaded)["all"]
    for question in (f"{TEAM_SECRET}的报价底线是多少？", f"{PRIVATE_SECRET}提到了什么？", QUESTION):
        response = client.post(
            "/v1/ask", json={"question": question, "top_k": 20}, headers=auth(keys["outsider"])
        )
        assert response.status_code == 200
        body = response.json()
        assert not {c["atom_id"] for c in body["answer"]["citations"]} & hidden
        said = str([body["answer"]["sections"], body["answer"]["citations"]])
        assert TEAM_SECRET not in said and PRIVATE_SECRET not in said
    ask = {"question": f"{TEAM_SECRET}的报价底线是多少？"}
    insider = client.post("/v1/ask", json=ask, headers=auth(keys["insider"])).json()
    assert TEAM_SECRET in str(insider["answer"]["sections"])


def test_reading_a_hidden_atom_is_404_like_a_missing_one(client, keys, loaded):
    team_atom = sorted(hidden_atom_ids(loaded)["team"])[0]
    outsider = client.get(f"/v1/atoms/{team_atom}", headers=auth(keys["outsider"]))
    missing = client.get("/v1/atoms/atom-doesnotexist0000", headers=auth(keys["outsider"]))
    assert outsider.status_code == missing.status_code == 404
    assert outsider.json()["code"] == missing.json()["code"] == "not_found"
    insider = client.get(f"/v1/atoms/{team_atom}", headers=auth(keys["insider"]))
    assert insider.status_code == 200 and TEAM_SECRET in insider.json()["atom"]["text"]
    assert any(e["name"] == "宁德时代" for e in insider.json()["entities"])


def test_entity_pages_count_only_visible_atoms(client, keys, loaded):
    hidden = hidden_atom_ids(loaded)["all"]

    def pages(key):
        ids, offset, total = [], 0, None
        while offset is not None:
            r = client.get(
                "/v1/entities/customer:宁德时代",
                params={"offset": offset, "limit": 5},
                headers=auth(key),
            )
            assert r.status_code == 200, r.text
            total = r.json()["atoms_total"]
            ids += [a["id"] for a in r.json()["atoms"]]
            offset = r.json()["next_offset"]
        return ids, total

    outsider, outsider_total = pages(keys["outsider"])
    insider, insider_total = pages(keys["insider"])
    assert outsider_total == len(outsider) == len(set(outsider)) and not set(outsider) & hidden
    assert insider_total == outsider_total + len(hidden_atom_ids(loaded)["team"])
    assert set(outsider) < set(insider)
    detail = client.get("/v1/entities/customer:宁德时代", headers=auth(keys["outsider"])).json()
    assert "CATL" in detail["aliases"] and detail["relations"]


def test_feedback_on_a_hidden_atom_is_404(client, keys, loaded):
    team_atom = sorted(hidden_atom_ids(loaded)["team"])[0]
    response = client.post(
        "/v1/feedback",
        json={"kind": "helpful", "atom_id": team_atom},
        headers=auth(keys["outsider"]),
    )
    assert response.status_code == 404


def test_a_visibility_changed_in_neo4j_holds_before_the_index_is_synced(client, keys, loaded):
    team_atom = sorted(hidden_atom_ids(loaded)["team"])[0]
    set_visibility = "MATCH (a:Atom {id: $id}) SET a.visibility = $v"
    loaded._driver.execute_query(set_visibility, id=team_atom, v="private")
    body = {"query": TEAM_SECRET, "top_k": 10}
    try:
        hits, _ = all_pages(client, keys["insider"], body, stable=False)
        assert team_atom not in {h["atom"]["id"] for h in hits}
        # Seeing the stale hit made the server refresh its index at once, not in 30 s: every
        # page's count is exact again within seconds.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            hits, total = all_pages(client, keys["insider"], body, stable=False)
            if total == len(hits):
                break
            time.sleep(0.5)
        assert total == len(hits) and team_atom not in {h["atom"]["id"] for h in hits}
        ask = {"question": f"{TEAM_SECRET}的报价底线是多少？", "top_k": 20}
        answer = client.post("/v1/ask", json=ask, headers=auth(keys["insider"])).json()
        assert team_atom not in {c["atom_id"] for c in answer["answer"]["citations"]}
        read = client.get(f"/v1/atoms/{team_atom}", headers=auth(keys["insider"]))
        assert read.status_code == 404
    finally:
        loaded._driver.execute_query(set_visibility, id=team_atom, v="team")


# -- search, ask, read ---------------------------------------------------------------------------
def test_search_gives_highlights_citations_graph_context_and_pages(client, keys):
    response = client.post(
        "/v1/search", json={"query": QUESTION, "top_k": 5}, headers=auth(keys["outsider"])
    )
    assert response.status_code == 200
    body = response.json()
    assert "宁德时代" in body["entities"] and body["total"] > 5 and body["next_offset"] == 5
    first = body["hits"][0]
    assert any("<em>" in h for h in first["highlights"])
    assert first["citation"]["document_path"] and first["atom"]["type_label"]
    assert any(h["entities"] for h in body["hits"]) and any(h["path"] for h in body["hits"])
    page2 = {"query": QUESTION, "top_k": 5, "offset": 5}
    second = client.post("/v1/search", json=page2, headers=auth(keys["outsider"])).json()
    assert not {h["atom"]["id"] for h in body["hits"]} & {h["atom"]["id"] for h in second["hits"]}


def test_context_only_search_for_a_crm_opportunity(client, keys):
    body = {"entities": ["宁德时代"], "types": ["case", "lesson"], "top_k": 5}
    response = client.post("/v1/search", json=body, headers=auth(keys["outsider"]))
    assert response.status_code == 200, response.text
    hits = response.json()["hits"]
    assert hits and all(h["atom"]["type"] in {"case", "lesson"} for h in hits)
    assert all(any(e["name"] == "宁德时代" for e in h["entities"]) for h in hits)


def test_ask_then_feedback_on_the_answer_reaches_its_atoms(client, keys, loaded):
    response = client.post("/v1/ask", json={"question": QUESTION}, headers=auth(keys["outsider"]))
    assert response.status_code == 200
    answer = response.json()
    assert answer["answer_id"].startswith("ans-") and answer["answer"]["citations"]
    cited = answer["answer"]["citations"][0]["atom_id"]
    before = client.get(f"/v1/atoms/{cited}", headers=auth(keys["outsider"])).json()["feedback"]
    feedback = client.post(
        "/v1/feedback",
        json={"kind": "helpful", "answer_id": answer["answer_id"], "comment": "客户很认可"},
        headers=auth(keys["outsider"]),
    )
    assert feedback.status_code == 201, feedback.text
    assert feedback.json()["atoms"] == len(answer["answer"]["citations"])
    after = client.get(f"/v1/atoms/{cited}", headers=auth(keys["outsider"])).json()["feedback"]
    assert after["helpful"] == before["helpful"] + 1
    records, _, _ = loaded._driver.execute_query(
        "MATCH (f:Feedback {id: $id})-[:ON]->(:Answer)-[:CITES]->(a:Atom) RETURN count(a) AS n",
        id=feedback.json()["id"],
    )
    assert records[0]["n"] == len(answer["answer"]["citations"])


def test_deal_outcome_feedback_on_an_atom(client, keys):
    hit = client.post(
        "/v1/search", json={"query": QUESTION, "top_k": 1}, headers=auth(keys["outsider"])
    ).json()["hits"][0]
    body = {"kind": "deal_won", "atom_id": hit["atom"]["id"], "deal": "OPP-2026-0042"}
    assert client.post("/v1/feedback", json=body, headers=auth(keys["outsider"])).status_code == 201
    detail = client.get(f"/v1/atoms/{hit['atom']['id']}", headers=auth(keys["outsider"])).json()
    assert detail["feedback"]["deal_won"] >= 1


def test_find_entities_by_alias_with_pages(client, keys):
    response = client.get("/v1/entities", params={"q": "CATL"}, headers=auth(keys["outsider"]))
    assert response.status_code == 200
    assert response.json()["items"][0]["id"] == "customer:宁德时代"
    terms = client.get(
        "/v1/entities", params={"kind": "Term", "limit": 10}, headers=auth(keys["outsider"])
    ).json()
    assert terms["total"] > 10 and terms["next_offset"] == 10 and len(terms["items"]) == 10


# -- errors people can act on --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ('{"query": "热失控"'.encode(), 422, "invalid_request"),  # malformed JSON
        (b'{"query": 42, "top_k": "many"}', 422, "invalid_request"),  # wrong types
        (b'{"query": "x", "top_k": 500}', 422, "invalid_request"),
        (b'{"query": "   "}', 422, "bad_query"),
        (b"[1, 2, 3]", 422, "invalid_request"),
        (('{"query": "' + "热" * 40000 + '"}').encode(), 413, "payload_too_large"),
    ],
)
def test_bad_requests_get_4xx_with_one_error_shape(client, keys, body, status, code):
    response = client.post(
        "/v1/search",
        content=body,
        headers={**auth(keys["outsider"]), "Content-Type": "application/json"},
    )
    assert response.status_code == status, response.text
    error = response.json()
    assert error["code"] == code
    assert set(error) == {"code", "message", "message_en", "detail", "request_id"}
    assert error["request_id"] == response.headers["X-Request-ID"]


def test_a_given_request_id_is_kept(client, keys):
    response = client.post(
        "/v1/search",
        json={"query": "热失控"},
        headers={**auth(keys["outsider"]), "X-Request-ID": "crm-trace-123"},
    )
    assert response.headers["X-Request-ID"] == "crm-trace-123"


def _wav(seconds: float, silent: bool) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        frames = int(seconds * 16000)
        w.writeframes(b"\x00\x00" * frames if silent else bytes(range(256)) * (frames // 128))
    return buffer.getvalue()


@pytest.mark.parametrize(
    "audio",
    [b"", b"this is not audio at all", _wav(2.0, silent=True)],
    ids=["empty", "garbage", "silence"],
)
def test_bad_audio_is_422(client, keys, audio):
    response = client.post(
        "/v1/ask/voice",
        files={"audio": ("q.wav", audio, "audio/wav")},
        headers=auth(keys["outsider"]),
    )
    assert response.status_code == 422, response.text
    assert response.json()["code"] in {"bad_audio", "invalid_request"}


def test_unknown_routes_and_methods_use_the_error_shape(client):
    response = client.get("/v1/nothing-here")
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    response = client.get("/v1/search")
    assert response.status_code == 405 and response.json()["code"] == "method_not_allowed"


# -- ingest jobs ---------------------------------------------------------------------------------
def wait_for(client, key, job_id, timeout_s=180.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = client.get(f"/v1/ingest/jobs/{job_id}", headers=auth(key)).json()
        if job["state"] in {"succeeded", "failed"}:
            return job
        time.sleep(0.5)
    raise AssertionError(f"job {job_id} did not finish: {job}")


def test_upload_ingest_job_lands_good_files_reports_bad_ones_and_reaches_search(client, keys):
    good = (
        "## 储能消防\n青鸾储能方案：储能电站的热失控早期预警依靠簇级气体探测与电芯温度联动，"
        "三级消防分区。"
    )
    files = [
        ("files", ("储能消防要点.md", good.encode(), "text/markdown")),
        ("files", ("broken.json", b'{"not": "a list', "application/json")),
    ]
    response = client.post(
        "/v1/ingest", files=files, data={"collection": "api-test"}, headers=auth(keys["ingester"])
    )
    assert response.status_code == 202, response.text
    job = wait_for(client, keys["ingester"], response.json()["id"])
    assert job["state"] == "succeeded", job
    assert job["report"]["atoms_created"] >= 1
    assert [f["file"] for f in job["report"]["failures"]] == ["broken.json"]

    def found(key):
        hits = client.post("/v1/search", json={"query": "青鸾储能方案"}, headers=auth(key)).json()
        return any("青鸾储能方案" in h["atom"]["text"] for h in hits["hits"])

    assert found(keys["insider"]), "the uploaded atom is searchable by the uploader's team"
    assert not found(keys["outsider"]), "uploads default to the uploader's team"

    other = client.get(f"/v1/ingest/jobs/{job['id']}", headers=auth(keys["other_ingester"]))
    assert other.status_code == 404
    admin = client.get(f"/v1/ingest/jobs/{job['id']}", headers=auth(keys["admin"]))
    assert admin.status_code == 200
    listing = client.get("/v1/ingest/jobs", params={"limit": 1}, headers=auth(keys["ingester"]))
    assert listing.json()["total"] >= 1 and listing.json()["items"][0]["id"] == job["id"]


def test_an_unsupported_upload_is_refused_whole_and_nothing_is_kept(client, keys, api_settings):
    uploads = api_settings.uploads_path
    before = set(uploads.glob("*")) if uploads.exists() else set()
    files = [
        ("files", ("ok.md", "## 标题\n足够长的一段正文内容，用于测试上传。".encode(), "text/md")),
        ("files", ("virus.exe", b"MZ", "application/octet-stream")),
    ]
    response = client.post("/v1/ingest", files=files, headers=auth(keys["ingester"]))
    assert response.status_code == 422 and "virus.exe" in response.json()["detail"]
    after = set(uploads.glob("*")) if uploads.exists() else set()
    assert after == before


# -- operations ----------------------------------------------------------------------------------
def test_liveness_readiness_and_metrics(client, keys):
    assert client.get("/livez").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    client.post("/v1/search", json={"query": "热失控"}, headers=auth(keys["outsider"]))
    text = client.get("/metrics").text
    assert 'skg_http_requests_total{method="POST",route="/v1/search",status="200"}' in text
    assert "skg_http_request_seconds_bucket" in text
    assert "skg_index_change_check_seconds_count" in text  # what the refresher's check costs


def test_openapi_documents_every_endpoint_with_examples(client):
    schema = client.get("/openapi.json").json()
    paths = set(schema["paths"])
    assert {
        "/v1/search",
        "/v1/ask",
        "/v1/ask/voice",
        "/v1/atoms/{atom_id}",
        "/v1/entities",
        "/v1/entities/{entity_id}",
        "/v1/feedback",
        "/v1/ingest",
        "/v1/ingest/jobs",
        "/v1/ingest/jobs/{job_id}",
        "/livez",
        "/readyz",
        "/metrics",
    } <= paths
    search_body = schema["components"]["schemas"]["SearchRequest"]
    assert search_body.get("examples")
    assert "HTTPBearer" in schema["components"]["securitySchemes"]


def test_cors_lets_the_configured_crm_origin_in_and_no_other(client):
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }
    allowed = client.options(
        "/v1/search", headers={"Origin": "https://crm.example.com", **preflight}
    )
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://crm.example.com"
    other = client.options("/v1/search", headers={"Origin": "https://evil.example", **preflight})
    assert "access-control-allow-origin" not in other.headers


def test_the_reps_page_is_served(client):
    response = client.get("/", follow_redirects=True)
    assert response.status_code == 200 and "text/html" in response.headers["content-type"]


# -- Neo4j outage: 503 with Retry-After, then recovery without a restart ------------------
def test_neo4j_outage_gives_503_and_recovers_by_itself(client, keys, api_settings, loaded):
    server = assembly.local_server(api_settings)
    server.stop()
    try:
        response = client.post(
            "/v1/search", json={"query": QUESTION}, headers=auth(keys["outsider"])
        )
        assert response.status_code == 503, response.text
        assert response.headers["Retry-After"] == "5"
        assert response.json()["code"] == "graph_unavailable"
        assert client.get("/readyz").status_code == 503
    finally:
        server.start(api_settings.password())
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        response = client.post(
            "/v1/search", json={"query": QUESTION}, headers=auth(keys["outsider"])
        )
        if response.status_code == 200:
            break
        time.sleep(1)
    assert response.status_code == 200 and response.json()["hits"]
    assert client.get("/readyz").status_code == 200


# -- saying "I don't know" -------------------------------------------------------------------------
def test_nonsense_is_declined_with_leads_and_recorded_as_a_gap(client, keys):
    for body, path in (
        ({"question": "asdfqwer zxcv"}, "/v1/ask"),
        ({"query": "asdfqwer zxcv"}, "/v1/search"),
    ):
        response = client.post(path, json=body, headers=auth(keys["insider"]))
        assert response.status_code == 200, response.text
        data = response.json()
        answered = data["answer"]["answered"] if path == "/v1/ask" else data["answered"]
        assert answered is False
    answer = client.post(
        "/v1/ask", json={"question": "asdfqwer zxcv"}, headers=auth(keys["insider"])
    ).json()
    assert answer["answer"]["sections"] == [] and answer["answer"]["citations"] == []
    assert answer["answer"]["leads"] and "可靠答案" in answer["text"]
    good = client.post("/v1/ask", json={"question": QUESTION}, headers=auth(keys["insider"]))
    assert good.json()["answer"]["answered"] is True
    assert good.json()["answer"]["confidence"] > answer["answer"]["confidence"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # the answer is recorded after the response
        gaps = client.get("/v1/gaps", params={"days": 1}, headers=auth(keys["admin"]))
        assert gaps.status_code == 200, gaps.text
        found = [g for g in gaps.json()["items"] if g["question"] == "asdfqwer zxcv"]
        if found:
            break
        time.sleep(0.2)
    assert found and found[0]["times"] >= 2 and found[0]["teams"] == [TEAM]
    assert QUESTION not in [g["question"] for g in gaps.json()["items"]]
    assert client.get("/v1/gaps", headers=auth(keys["insider"])).status_code == 403
