"""Conversations on the real stack (Neo4j, the index, the models): follow-up questions read
with the previous turn, kept per key (another key's conversation is a 404), old ones deleted;
answers streamed as server-sent events; and nothing a key may not see, in any turn or event."""

from __future__ import annotations

import json
import uuid

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.keys import ApiKeys
from ingest.pipeline import ingest_paths
from retrieval.index.sync import sync_index
from tests.conftest import EVAL_DATA, SAMPLES
from tests.cypher import cypher

pytestmark = pytest.mark.integration

QUESTION = "宁德时代的热失控方案怎么讲？"
TEAM = "华东大客户部"
SECRET = "青鸾条款"  # a word only the team's document holds
HIDDEN_CUSTOMER = "蓝鲸电池"  # a customer only the team's document names
TEAM_DOC = f"""---
标题: 蓝鲸电池热失控项目内部打法
客户: {HIDDEN_CUSTOMER}
行业: 动力电池
可见范围: 团队
团队: {TEAM}
---
## 报价底线
{SECRET}：{HIDDEN_CUSTOMER}热失控防护方案的报价底线为标准价的八折，低于此价格需要大区总监审批。
先讲热扩散试验数据，再谈价格。

## 竞品应对
{SECRET}：{HIDDEN_CUSTOMER}的竞品以低价云母板方案切入时，强调总拥有成本和召回风险。
"""


@pytest.fixture(scope="module")
def conv_settings(settings):
    return settings.model_copy(update={"auth_cache_seconds": 0.0})


@pytest.fixture(scope="module")
def loaded(store, embedder, conv_settings, tmp_path_factory):
    """The samples and the team's document in the graph and the index (not wiped first:
    whatever earlier modules loaded stays, and nothing unchanged is embedded again)."""
    folder = tmp_path_factory.mktemp("conv") / "团队资料"
    folder.mkdir()
    (folder / "bluewhale.md").write_text(TEAM_DOC, encoding="utf-8")
    report = ingest_paths([SAMPLES, folder], store)
    assert report.failures == []
    sync_index(store, embedder, conv_settings.index_path)
    return store


@pytest.fixture(scope="module")
def keys(loaded):
    make = ApiKeys(loaded).create
    return {
        "outsider": make("conv-华南", ["search", "ask"], team="华南渠道部")[1],
        "insider": make("conv-华东", ["search", "ask"], team=TEAM)[1],
        "search_only": make("conv-只读", ["search"])[1],
    }


@pytest.fixture(scope="module")
def client(loaded, conv_settings):
    with TestClient(create_app(conv_settings), raise_server_exceptions=False) as c:
        yield c


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def ask(client, key: str, question: str, conversation_id: str | None = None, **extra) -> dict:
    body = {"question": question, **extra}
    if conversation_id:
        body["conversation_id"] = conversation_id
    response = client.post("/v1/ask", json=body, headers=auth(key))
    assert response.status_code == 200, response.text
    return response.json()


def events(response) -> list[tuple[str, dict]]:
    """The server-sent events of a response, in order."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    found = []
    for block in response.text.split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "data" in lines:
            found.append((lines.get("event", "message"), json.loads(lines["data"])))
    return found


def cited(answer: dict) -> list[str]:
    return [c["atom_id"] for c in answer["answer"]["citations"]]


# -- follow-ups ----------------------------------------------------------------------------------
def test_a_follow_up_is_read_with_the_previous_turn(client, keys):
    first = ask(client, keys["outsider"], QUESTION)
    assert first["conversation_id"].startswith("conv-") and first["turn"] == 1
    assert first["answer"]["rewritten"] is None

    second = ask(client, keys["outsider"], "那比亚迪呢？", first["conversation_id"])
    assert second["conversation_id"] == first["conversation_id"] and second["turn"] == 2
    assert second["answer"]["question"] == "那比亚迪呢？"
    assert second["answer"]["rewritten"] == "比亚迪的热失控方案怎么讲？"
    assert "理解：比亚迪的热失控方案怎么讲（承接上一问）" in second["text"]
    assert "比亚迪" in second["answer"]["entities"]
    # The same atoms as the question spelled out, asked on its own.
    spelled = ask(client, keys["outsider"], "比亚迪的热失控方案怎么讲？")
    assert cited(second)[:5] == cited(spelled)[:5]

    third = ask(client, keys["outsider"], "它的成本呢？", first["conversation_id"])
    assert third["answer"]["rewritten"] == "比亚迪的热失控方案的成本怎么讲？" and third["turn"] == 3

    # Without the conversation the same words are read as they stand.
    alone = ask(client, keys["outsider"], "那比亚迪呢？")
    assert alone["answer"]["rewritten"] is None


def test_an_industry_swap_and_the_conversation_as_kept(client, keys):
    first = ask(client, keys["outsider"], QUESTION)
    swapped = ask(client, keys["outsider"], "换成储能行业怎么说", first["conversation_id"])
    assert swapped["answer"]["rewritten"] == "储能行业的热失控方案怎么讲？"
    response = client.get(
        f"/v1/conversations/{first['conversation_id']}", headers=auth(keys["outsider"])
    )
    assert response.status_code == 200, response.text
    turns = response.json()["turns"]
    assert [(t["n"], t["question"], t["followup"]) for t in turns] == [
        (1, QUESTION, False),
        (2, "换成储能行业怎么说", True),
    ]
    assert turns[1]["resolved"] == "储能行业的热失控方案怎么讲？"
    assert turns[1]["answer_id"] == swapped["answer_id"] and turns[1]["channel"] == "text"


def test_another_keys_conversation_is_404_like_a_missing_one(client, keys):
    mine = ask(client, keys["insider"], QUESTION)["conversation_id"]
    path = f"/v1/conversations/{mine}"
    for key in (keys["outsider"],):
        read = client.get(path, headers=auth(key))
        assert read.status_code == 404 and read.json()["code"] == "not_found"
        body = {"question": "那比亚迪呢？", "conversation_id": mine}
        continued = client.post("/v1/ask", json=body, headers=auth(key))
        assert continued.status_code == 404, continued.text
        streamed = client.post(
            "/v1/ask", json=body, headers={**auth(key), "Accept": "text/event-stream"}
        )
        assert streamed.status_code == 404  # refused before the stream starts
    missing = "conv-" + uuid.uuid4().hex
    assert (
        client.get(f"/v1/conversations/{missing}", headers=auth(keys["insider"])).status_code == 404
    )
    assert (
        client.get("/v1/conversations/nonsense", headers=auth(keys["insider"])).status_code == 422
    )
    assert client.get(path, headers=auth(keys["search_only"])).status_code == 403
    assert client.get(path).status_code == 401
    # The owner still reads and continues it, untouched by the attempts.
    turns = client.get(path, headers=auth(keys["insider"])).json()["turns"]
    assert [t["question"] for t in turns] == [QUESTION]


def test_old_conversations_are_deleted_after_an_answer(
    client, keys, loaded, conv_settings, monkeypatch
):
    from api.routes import search

    monkeypatch.setattr(search, "CONVERSATION_CLEANUP_S", 0.0)  # due at every answer
    old = ask(client, keys["outsider"], QUESTION)["conversation_id"]
    recent = ask(client, keys["outsider"], QUESTION)["conversation_id"]
    days = conv_settings.conversation_days
    cypher(
        loaded,
        "MATCH (c:Conversation {id: $id}) SET c.updated_at = datetime() - duration({days: $d})",
        id=old,
        d=days + 1,
    )
    ask(client, keys["outsider"], "比亚迪的BMS预警怎么讲？")  # the clean-up runs after it
    assert client.get(f"/v1/conversations/{old}", headers=auth(keys["outsider"])).status_code == 404
    left = cypher(
        loaded, "MATCH (c:Conversation {id: $id})-[:HAS_TURN]->(t) RETURN count(t) AS n", id=old
    )
    assert left[0]["n"] == 0  # its turns went with it
    assert (
        client.get(f"/v1/conversations/{recent}", headers=auth(keys["outsider"])).status_code == 200
    )


# -- streaming -----------------------------------------------------------------------------------
def test_an_answer_streams_as_server_sent_events(client, keys):
    response = client.post(
        "/v1/ask",
        json={"question": QUESTION},
        headers={**auth(keys["outsider"]), "Accept": "text/event-stream"},
    )
    found = events(response)
    names = [name for name, _ in found]
    assert names[0] == "understanding" and names[-1] == "done", names
    assert "section" in names and names.index("citations") > names.index("section")
    assert "error" not in names and "declined" not in names
    understanding = found[0][1]
    assert understanding["question"] == QUESTION and "宁德时代" in understanding["entities"]
    assert understanding["understood"].startswith("理解：")
    sections = [data for name, data in found if name == "section"]
    assert all(s["heading"] and s["points"] for s in sections)
    citations = next(data for name, data in found if name == "citations")["citations"]
    numbers = {n for s in sections for p in s["points"] for n in p["citations"]}
    assert numbers <= {c["number"] for c in citations}
    done = found[-1][1]
    assert done["answer_id"].startswith("ans-") and done["answered"] is True
    # The streamed answer is the plain one, section by section.
    plain = ask(client, keys["outsider"], QUESTION)
    assert [s["heading"] for s in sections] == [s["heading"] for s in plain["answer"]["sections"]]
    # A follow-up streams too, with `stream: true` instead of the Accept header.
    follow = client.post(
        "/v1/ask",
        json={
            "question": "那比亚迪呢？",
            "conversation_id": done["conversation_id"],
            "stream": True,
        },
        headers=auth(keys["outsider"]),
    )
    first = events(follow)[0][1]
    assert first["understood_as"] == "比亚迪的热失控方案怎么讲？"
    assert "（承接上一问）" in first["understood"]


def test_a_declined_answer_streams_the_leads(client, keys):
    response = client.post(
        "/v1/ask",
        json={"question": "今天天气怎么样？", "stream": True},
        headers=auth(keys["outsider"]),
    )
    found = events(response)
    names = [name for name, _ in found]
    assert names == ["understanding", "declined", "done"], names
    declined = found[1][1]
    assert "没有这个问题的可靠答案" in declined["text"]
    assert found[-1][1]["answered"] is False


def test_errors_before_the_stream_keep_their_status(client, keys):
    stream = {**auth(keys["outsider"]), "Accept": "text/event-stream"}
    assert client.post("/v1/ask", json={"question": " "}, headers=stream).status_code == 422
    assert (
        client.post(
            "/v1/ask", json={"question": QUESTION}, headers={"Accept": "text/event-stream"}
        ).status_code
        == 401
    )


# -- visibility in every turn and event ----------------------------------------------------------
def test_conversations_and_streams_never_show_what_a_key_may_not_see(client, keys, loaded):
    turns = [f"{HIDDEN_CUSTOMER}的热失控方案怎么讲？", "报价底线呢？", "这个行业还有哪些客户？"]
    said = {}
    for who in ("outsider", "insider"):
        conversation, text = None, ""
        for question in turns:
            body = {"question": question, "top_k": 20, "stream": True}
            if conversation:
                body["conversation_id"] = conversation
            response = client.post("/v1/ask", json=body, headers=auth(keys[who]))
            found = events(response)
            conversation = found[-1][1]["conversation_id"]
            text += response.text
            understanding = found[0][1]
            if who == "outsider":
                assert HIDDEN_CUSTOMER not in understanding["entities"]
        kept = client.get(f"/v1/conversations/{conversation}", headers=auth(keys[who])).text
        said[who] = text + kept
    assert SECRET not in said["outsider"]
    assert SECRET in said["insider"]  # the team's own key finds it, through the follow-ups
    # The outsider's turns hold only what it typed: the hidden customer's industry relation
    # (stated by the team's document alone) is not walked for it.
    hidden = {
        r["id"]
        for r in cypher(loaded, "MATCH (a:Atom) WHERE a.team = $t RETURN a.id AS id", t=TEAM)
    }
    assert hidden and not any(atom in said["outsider"] for atom in hidden)


def test_a_spoken_follow_up_joins_the_conversation(client, keys):
    first = ask(client, keys["outsider"], "比亚迪的BMS预警怎么讲？")
    audio = (EVAL_DATA / "speech_zh" / "questions" / "q01.wav").read_bytes()
    response = client.post(
        "/v1/ask/voice",
        files={"audio": ("q.wav", audio, "audio/wav")},
        data={"conversation_id": first["conversation_id"]},
        headers=auth(keys["outsider"]),
    )
    assert response.status_code == 200, response.text
    spoken = response.json()
    assert spoken["conversation_id"] == first["conversation_id"] and spoken["turn"] == 2
    assert "热失控" in spoken["transcript"]["text"]
    turns = client.get(
        f"/v1/conversations/{first['conversation_id']}", headers=auth(keys["outsider"])
    ).json()["turns"]
    assert turns[1]["channel"] == "voice"
