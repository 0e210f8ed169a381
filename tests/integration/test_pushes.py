"""Signals and pushes on the real stack: CRM events fire the rules kept in Neo4j, each push
holds a cited brief section, and a real webhook receiver (a small HTTP server in this test)
gets it signed with HMAC-SHA256, again after a 500, once after a restart, and never twice.
Rules are the admins'; a key sees its team's pushes only, and nothing it may not see."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.app import create_app
from api.keys import ApiKeys
from api.push_rules import DEFAULT_RULES
from api.pushes import ATTEMPT_HEADER, PUSH_ID_HEADER, SIGNATURE_HEADER, verify
from ingest.pipeline import ingest_paths
from retrieval.index.sync import sync_index
from tests.conftest import SAMPLES
from tests.cypher import cypher

pytestmark = pytest.mark.integration

SECRET = "webhook-secret-for-tests-0123456789"
TEAM = "华东推送组"
OTHER_TEAM = "华南推送组"
TEAM_SECRET = "鲸歌方案"
TEAM_CUSTOMER = "蓝鲸海工"
WAIT_S = 30

TEAM_DOC = f"""---
类型: 成功案例
标题: 蓝鲸海工储能项目内部打法
客户: {TEAM_CUSTOMER}
行业: 储能
可见范围: 团队
团队: {TEAM}
---
## 常见异议与应对
"你们太贵了"：{TEAM_SECRET}：{TEAM_CUSTOMER}嫌贵时，报价底线为标准价八八折，先讲消防验收一次通过的价值。
"""


# ---- a real webhook receiver ------------------------------------------------------------------
@dataclass
class Delivery:
    body: bytes
    headers: dict[str, str]
    status: int

    @property
    def push_id(self) -> str:
        return self.headers[PUSH_ID_HEADER]


@dataclass
class Receiver:
    """Records every POST; answers with the queued statuses first, then 200."""

    url: str = ""
    deliveries: list[Delivery] = field(default_factory=list)
    fail_next: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def of(self, push_id: str) -> list[Delivery]:
        with self.lock:
            return [d for d in self.deliveries if d.push_id == push_id]

    def wait(self, what: Callable[[], bool], timeout: float = WAIT_S) -> None:
        deadline = time.monotonic() + timeout
        while not what():
            assert time.monotonic() < deadline, f"timed out; deliveries: {self.deliveries}"
            time.sleep(0.1)


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with state.lock:
                status = state.fail_next.pop(0) if state.fail_next else 200
                headers = {k: v for k, v in self.headers.items()}
                state.deliveries.append(Delivery(body, headers, status))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/crm/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


# ---- the stack ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def loaded(store, embedder, settings, tmp_path_factory):
    folder = tmp_path_factory.mktemp("pushes") / "推送资料"
    folder.mkdir()
    (folder / "bluewhale.md").write_text(TEAM_DOC, encoding="utf-8")
    assert ingest_paths([SAMPLES, folder], store).failures == []
    sync_index(store, embedder, settings.index_path)
    return store


@pytest.fixture(scope="module")
def keys(loaded):
    make = ApiKeys(loaded).create
    return {
        "rep": make("push-华东", ["ask"], team=TEAM)[1],
        "outsider": make("push-华南", ["ask"], team=OTHER_TEAM)[1],
        "search_only": make("push-只读", ["search"])[1],
        "admin": make("push-运营", ["admin"])[1],
    }


def hooked(settings, receiver: Receiver, **changes):
    return settings.model_copy(
        update={
            "push_webhook_url": receiver.url,
            "push_webhook_secret": SecretStr(SECRET),
            "push_retry_base_seconds": 0.3,
            "push_retry_max_seconds": 1.0,
            "push_poll_seconds": 0.1,
            "push_rate_per_hour": 3,
            **changes,
        }
    )


@pytest.fixture(scope="module")
def client(loaded, settings, receiver):
    with TestClient(create_app(hooked(settings, receiver)), raise_server_exceptions=False) as c:
        yield c


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def post_event(client, key: str, **event) -> dict:
    response = client.post("/v1/events", json=event, headers=auth(key))
    assert response.status_code == 202, response.text
    return {p["rule_id"]: p for p in response.json()["pushes"]}


def pushes(client, key: str, **params) -> dict:
    response = client.get("/v1/pushes", params=params, headers=auth(key))
    assert response.status_code == 200, response.text
    return response.json()


def push_of(client, key: str, push_id: str) -> dict:
    return next(p for p in pushes(client, key, limit=100)["items"] if p["id"] == push_id)


# ---- the cases ----------------------------------------------------------------------------
def test_deliveries_survive_a_restart_and_a_dead_worker(loaded, settings, receiver, keys):
    """First in the module: no other server's worker is running yet."""
    quiet = settings.model_copy(update={"push_webhook_url": None, "push_webhook_secret": None})
    with TestClient(create_app(quiet), raise_server_exceptions=False) as offline:
        fired = post_event(
            offline,
            keys["rep"],
            kind="note",
            opportunity_id="P-S",
            customer="晶川能源",
            rep="孙悦",
            text="客户说华拓软件的OA平台实施周期只要一个月，客户问我们多久能上线？",
        )
    ids = [p["push_id"] for p in fired.values() if p["state"] == "queued"]
    assert len(ids) == 2
    # A worker that claimed one and died: its lease runs out, then the push goes again.
    claimed = loaded.claim_pushes("a-dead-worker", 1, 0.5)
    assert len(claimed) == 1 and claimed[0]["id"] in ids
    time.sleep(0.6)
    with TestClient(create_app(hooked(settings, receiver)), raise_server_exceptions=False) as c:
        receiver.wait(lambda: all(len(receiver.of(i)) == 1 for i in ids))
        receiver.wait(lambda: all(push_of(c, keys["rep"], i)["state"] == "delivered" for i in ids))
        time.sleep(1.0)
    assert all(len(receiver.of(i)) == 1 for i in ids), "once each"


def test_a_push_is_signed_retried_after_a_500_and_delivered_once(client, keys, receiver):
    receiver.fail_next.append(500)
    fired = post_event(
        client,
        keys["rep"],
        kind="note",
        opportunity_id="P-1",
        customer="宁德时代",
        rep="张伟",
        text="技术交流会上客户提到锐驰科技也在送样。",
    )
    push = fired["competitor-first-mention"]
    assert push["state"] == "queued" and push["reason"] == "首次提到竞品：锐驰科技"
    receiver.wait(lambda: len(receiver.of(push["push_id"])) >= 2)
    first, second = receiver.of(push["push_id"])
    assert (first.status, second.status) == (500, 200)
    assert (first.headers[ATTEMPT_HEADER], second.headers[ATTEMPT_HEADER]) == ("1", "2")
    assert first.body == second.body, "a retry sends the same push"
    for delivery in (first, second):
        assert verify(SECRET, delivery.body, delivery.headers[SIGNATURE_HEADER])
        assert not verify(
            "another-secret-0123456789", delivery.body, delivery.headers[SIGNATURE_HEADER]
        )
    body = json.loads(second.body)
    assert body["push_id"] == push["push_id"] and body["rep"] == "张伟"
    section = body["brief"]["sections"][0]
    assert section["heading"] == "竞品对比" and section["points"]
    cited = {c["number"] for c in body["brief"]["citations"]}
    assert all(set(p["citations"]) <= cited for p in section["points"])
    assert any("锐驰" in p["text"] for p in section["points"])

    receiver.wait(lambda: push_of(client, keys["rep"], push["push_id"])["state"] == "delivered")
    listed = push_of(client, keys["rep"], push["push_id"])
    assert listed["attempts"] == 2 and listed["last_status"] == 200
    time.sleep(1.0)
    assert len(receiver.of(push["push_id"])) == 2, "delivered once, never again"


def test_the_same_event_again_pushes_nothing_new(client, keys, receiver):
    event = {
        "kind": "email_summary",
        "opportunity_id": "P-2",
        "customer": "宁德时代",
        "rep": "李娜",
        "text": "采购总监邮件：我们的方案太贵了，锐驰科技便宜不少。",
    }
    first = post_event(client, keys["rep"], **event)
    assert first["objection-phrase"]["state"] == "queued"
    assert first["competitor-first-mention"]["state"] == "queued"  # new on this opportunity
    again = post_event(client, keys["rep"], **event)
    assert again["objection-phrase"]["state"] == "duplicate"
    assert again["objection-phrase"]["push_id"] is None
    assert "competitor-first-mention" not in again, "锐驰科技 is no longer new here"
    push_id = first["objection-phrase"]["push_id"]
    receiver.wait(lambda: len(receiver.of(push_id)) == 1)
    time.sleep(1.0)
    assert len(receiver.of(push_id)) == 1
    listed = pushes(client, keys["rep"], opportunity_id="P-2")
    assert listed["total"] == 2


def test_stage_and_metric_rules(client, keys):
    stage = post_event(
        client,
        keys["rep"],
        kind="stage_change",
        opportunity_id="P-3",
        customer="比亚迪",
        rep="王强",
        previous_stage="方案",
        stage="商务谈判",
    )
    assert stage["stage-change"]["reason"] == "阶段变更：方案 → 商务谈判"
    assert stage["stage-change"]["state"] == "queued"
    metric = {"kind": "metric_threshold", "opportunity_id": "P-3", "customer": "比亚迪"}
    assert (
        post_event(client, keys["rep"], **metric, rep="王强", metric="win_probability", value=0.6)
        == {}
    )
    low = post_event(client, keys["rep"], **metric, rep="王强", metric="win_probability", value=0.2)
    assert low["win-probability-low"]["state"] == "queued"
    assert (
        post_event(client, keys["rep"], **metric, rep="王强", metric="win_probability", value=0.1)
        == {}
    )
    listed = pushes(client, keys["rep"], opportunity_id="P-3")["items"]
    headings = {p["rule_id"]: p["brief"]["sections"][0]["heading"] for p in listed}
    assert headings == {"stage-change": "常见异议与应对", "win-probability-low": "失败复盘教训"}


def test_a_note_naming_a_known_metric_without_its_value_keeps_the_value(client, keys):
    # Found by the fuzz: the metric's stored value was replaced by null, which a list
    # property cannot hold (a 500).
    metric = {"kind": "metric_threshold", "opportunity_id": "P-9", "customer": "比亚迪"}
    assert post_event(client, keys["rep"], **metric, metric="win_probability", value=0.6) == {}
    note = {"kind": "note", "opportunity_id": "P-9", "customer": "比亚迪", "rep": "王强"}
    post_event(client, keys["rep"], **note, metric="win_probability", text="客户在看报价")
    low = post_event(client, keys["rep"], **metric, rep="王强", metric="win_probability", value=0.2)
    assert low["win-probability-low"]["state"] == "queued"  # from 0.6, kept, to 0.2


def test_a_rep_gets_at_most_the_hourly_limit(client, keys):
    states = []
    for n in range(5):
        fired = post_event(
            client,
            keys["rep"],
            kind="note",
            opportunity_id=f"P-R{n}",
            customer=["宁德时代", "比亚迪", "粤能新能源", "晶川能源", "芯湃微电子"][n],
            rep="限流测试",
            text="客户嫌贵。",
        )
        states.append(fired["objection-phrase"]["state"])
    assert states == ["queued"] * 3 + ["rate_limited"] * 2


def test_another_team_sees_nothing_and_admins_see_no_hidden_points(client, keys, loaded):
    fired = post_event(
        client,
        keys["rep"],
        kind="note",
        opportunity_id="P-T",
        customer=TEAM_CUSTOMER,
        rep="赵敏",
        text=f"{TEAM_CUSTOMER}的采购说我们太贵了。",
    )
    push_id = fired["objection-phrase"]["push_id"]
    mine = push_of(client, keys["rep"], push_id)
    assert any(TEAM_SECRET in p["text"] for s in mine["brief"]["sections"] for p in s["points"])

    theirs = client.get("/v1/pushes", params={"limit": 100}, headers=auth(keys["outsider"]))
    assert theirs.status_code == 200 and theirs.json()["total"] == 0
    for name in (TEAM_SECRET, TEAM_CUSTOMER, "P-T", "张伟"):
        assert name not in theirs.text

    admin = client.get("/v1/pushes", params={"limit": 100}, headers=auth(keys["admin"]))
    assert admin.status_code == 200
    assert push_id in admin.text, "admins see every push"
    assert TEAM_SECRET not in admin.text and TEAM_CUSTOMER not in admin.text
    hidden = {
        r["id"] for r in cypher(loaded, "MATCH (a:Atom {team: $t}) RETURN a.id AS id", t=TEAM)
    }
    listed = admin.json()["items"]
    assert not hidden & {c["atom_id"] for p in listed for c in p["brief"]["citations"]}


def test_rules_are_the_admins_and_take_effect_at_once(client, keys, loaded, settings, receiver):
    admin = auth(keys["admin"])
    assert client.get("/v1/push-rules", headers=auth(keys["rep"])).status_code == 403
    rules = client.get("/v1/push-rules", headers=admin).json()["rules"]
    assert [r["id"] for r in rules] == [r.id for r in DEFAULT_RULES]
    objection = next(r for r in rules if r["id"] == "objection-phrase")
    objection["phrases"] = ["价格偏高"]
    kept = [r for r in rules if r["id"] != "discount-high"]
    response = client.put("/v1/push-rules", json={"rules": kept}, headers=admin)
    assert response.status_code == 200, response.text
    try:
        event = {"kind": "note", "customer": "宁德时代", "rep": "规则测试"}
        assert (
            post_event(client, keys["rep"], **event, opportunity_id="P-U1", text="客户嫌贵") == {}
        )
        fired = post_event(
            client, keys["rep"], **event, opportunity_id="P-U2", text="客户觉得价格偏高"
        )
        assert fired["objection-phrase"]["state"] == "queued"
        metric = {"kind": "metric_threshold", "opportunity_id": "P-U3", "customer": "宁德时代"}
        assert post_event(client, keys["rep"], **metric, metric="discount_rate", value=0.3) == {}
        # A restart does not bring the deleted rule back.
        with TestClient(create_app(settings), raise_server_exceptions=False) as again:
            ids = [r["id"] for r in again.get("/v1/push-rules", headers=admin).json()["rules"]]
        assert "discount-high" not in ids
        bad = [
            {"rules": [*kept, kept[0]]},  # a duplicate id
            {"rules": [{**kept[0], "url": "http://169.254.169.254/"}]},  # rules name no address
            {"rules": [{**objection, "phrases": []}]},
        ]
        for body in bad:
            assert client.put("/v1/push-rules", json=body, headers=admin).status_code == 422
    finally:
        defaults = [r.model_dump(mode="json") for r in DEFAULT_RULES]
        client.put("/v1/push-rules", json={"rules": defaults}, headers=admin)


def test_events_are_checked(client, keys):
    base = {"opportunity_id": "P-V", "customer": "宁德时代"}
    for body in (
        {**base, "kind": "stage_change"},  # no stage
        {**base, "kind": "metric_threshold", "metric": "win_probability"},  # no value
        {**base, "kind": "gossip"},
        {**base, "kind": "note", "webhook": "http://127.0.0.1:22/"},  # no address from a key
        {"kind": "note", "customer": "宁德时代"},
    ):
        response = client.post("/v1/events", json=body, headers=auth(keys["rep"]))
        assert response.status_code == 422, body
    event = {**base, "kind": "note", "text": "客户嫌贵"}
    assert client.post("/v1/events", json=event).status_code == 401
    assert (
        client.post("/v1/events", json=event, headers=auth(keys["search_only"])).status_code == 403
    )
    assert client.get("/v1/pushes", headers=auth(keys["search_only"])).status_code == 403
