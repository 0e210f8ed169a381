"""Briefs on the real stack (Neo4j, the models, the server's code): the sections a stage calls
for, every point cited and readable by the key, the industry fallback for unknown customers,
and nothing of another team: no atoms, no names. Also `skg brief`."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from api.cli import app as cli_app
from api.keys import ApiKeys
from ingest.pipeline import ingest_paths
from retrieval.answers.brief_sections import SECTIONS, STAGE_SECTIONS, Stage
from retrieval.index.sync import sync_index
from tests.conftest import SAMPLES, TEST_HOME
from tests.cypher import cypher

pytestmark = pytest.mark.integration

TEAM = "华东简报组"
OWNER = "刘洋"
SECRET_CUSTOMER = "蓝鲸重工"  # only this team's document names it
SECRET_INDUSTRY = "深海装备"
TEAM_SECRET = "潮汐协议"
PRIVATE_SECRET = "珊瑚条款"

TEAM_DOC = f"""---
类型: 成功案例
标题: 蓝鲸重工深海电池包项目
客户: {SECRET_CUSTOMER}
行业: {SECRET_INDUSTRY}
可见范围: 团队
团队: {TEAM}
---
## 挑战
{SECRET_CUSTOMER}的深海电池包要在高压海水环境下防止热失控蔓延，{TEAM_SECRET}要求试验数据。

## 方案
{TEAM_SECRET}：为{SECRET_CUSTOMER}采用耐压壳体加气凝胶隔热垫，报价底线为标准价八折。

## 成果
{SECRET_CUSTOMER}首批深海电池包通过热扩散试验，{TEAM_SECRET}框架合同三千万元。
"""

PRIVATE_DOC = f"""---
类型: 成功案例
标题: 宁德时代采购私下沟通
客户: 宁德时代
可见范围: 个人
负责人: {OWNER}
---
## 常见异议与应对
{PRIVATE_SECRET}：宁德时代采购嫌隔热垫太贵时，私下可以让到九二折，不要写进邮件。
"""


@pytest.fixture(scope="module")
def loaded(store, embedder, settings, tmp_path_factory):
    """The samples and two hidden documents in the graph and the index. Not wiped first: the
    run starts from an empty graph, and what earlier modules loaded is not embedded again."""
    folder = tmp_path_factory.mktemp("briefs") / "简报资料"
    folder.mkdir()
    (folder / "bluewhale.md").write_text(TEAM_DOC, encoding="utf-8")
    (folder / "private.md").write_text(PRIVATE_DOC, encoding="utf-8")
    report = ingest_paths([SAMPLES, folder], store)
    assert report.failures == []
    sync_index(store, embedder, settings.index_path)
    return store


@pytest.fixture(scope="module")
def keys(loaded):
    make = ApiKeys(loaded).create
    return {
        "insider": make("brief-华东", ["ask"], team=TEAM)[1],
        "outsider": make("brief-华南", ["search", "ask"], team="华南简报组")[1],
        "owner": make("brief-刘洋", ["ask"], user=OWNER)[1],
        "search_only": make("brief-只读", ["search"])[1],
    }


@pytest.fixture(scope="module")
def client(loaded, settings):
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        yield c


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def brief_of(client, key: str, **body) -> dict:
    response = client.post("/v1/briefs", json=body, headers=auth(key))
    assert response.status_code == 200, response.text
    return response.json()


def points(brief: dict) -> list[str]:
    return [p["text"] for s in brief["sections"] for p in s["points"]]


def hidden_atoms(store) -> set[str]:
    rows = cypher(store, "MATCH (a:Atom) WHERE a.visibility <> 'public' RETURN a.id AS id")
    return {r["id"] for r in rows}


def test_a_brief_has_the_stages_sections_every_point_cited(client, keys):
    body = brief_of(
        client,
        keys["outsider"],
        customer="CATL",
        stage="技术交流",
        roles=["电池安全负责人"],
        notes="客户关心热扩散试验数据",
    )
    brief = body["brief"]
    assert brief["customer"] == "宁德时代" and brief["customer_known"]
    assert brief["industry"] == "动力电池" and brief["note"] is None
    headings = [s["heading"] for s in brief["sections"]]
    assert headings == [SECTIONS[k].heading for k in STAGE_SECTIONS[Stage.TECHNICAL]]
    numbers = [n for s in brief["sections"] for p in s["points"] for n in p["citations"]]
    assert numbers == list(range(1, len(brief["citations"]) + 1)), "each point cited, once"
    assert len(numbers) >= 8, body["text"]
    for section in brief["sections"]:
        assert bool(section["points"]) != bool(section["empty"]), section
    solution = brief["sections"][0]
    assert "宁德时代" in solution["points"][0]["text"], "the customer's own knowledge first"
    for citation in brief["citations"]:
        atom = client.get(f"/v1/atoms/{citation['atom_id']}", headers=auth(keys["outsider"]))
        assert atom.status_code == 200, "every cited atom is one the key may read"
    assert "【方案要点】" in body["text"] and "引用：" in body["text"]


@pytest.mark.parametrize(
    ("stage", "heading"),
    [("线索", "开场与破冰话术"), ("商务谈判", "常见异议与应对"), ("signing", "失败复盘教训")],
)
def test_the_stage_chooses_the_lead_section(client, keys, stage, heading):
    brief = brief_of(client, keys["outsider"], customer="比亚迪", stage=stage)["brief"]
    assert brief["sections"][0]["heading"] == heading


def test_a_named_competitor_brings_the_comparison(client, keys):
    brief = brief_of(
        client, keys["outsider"], customer="宁德时代", stage="线索", competitors=["锐驰科技"]
    )["brief"]
    comparison = brief["sections"][-1]
    assert comparison["heading"] == "竞品对比"
    assert any("锐驰" in p["text"] for p in comparison["points"])


def test_similar_cases_come_from_the_same_industry(client, keys):
    brief = brief_of(client, keys["outsider"], customer="恒远动力", stage="方案")["brief"]
    cases = next(s for s in brief["sections"] if s["heading"] == "相似成功案例")
    cited = {c["number"]: c for c in brief["citations"]}
    titles = [cited[p["citations"][0]]["atom_title"] for p in cases["points"]]
    battery = ("恒远", "宁德时代", "热失控", "电池")
    assert titles and any(word in titles[0] for word in battery), titles


def test_an_unknown_customer_falls_back_to_the_industry_and_says_so(client, keys):
    brief = brief_of(
        client, keys["outsider"], customer="远景能源", industry="储能", stage="商务谈判"
    )["brief"]
    assert not brief["customer_known"] and brief["customer"] == "远景能源"
    assert "远景能源" in brief["note"] and "储能" in brief["note"]
    assert brief["industry"] == "储能"
    assert points(brief), "the industry's knowledge fills it"
    titles = " ".join(c["atom_title"] for c in brief["citations"])
    assert any(name in titles for name in ("粤能", "北辰", "天衡", "储能")), titles

    bare = brief_of(client, keys["outsider"], customer="远景能源", stage="线索")["brief"]
    assert "未识别到行业" in bare["note"]


def test_another_teams_customer_and_knowledge_never_reach_a_key(client, keys, loaded):
    hidden = hidden_atoms(loaded)
    assert hidden, "the hidden documents are in the graph"
    for stage in ("需求确认", "技术交流", "商务谈判"):
        for customer in (SECRET_CUSTOMER, "宁德时代"):
            response = client.post(
                "/v1/briefs",
                json={"customer": customer, "stage": stage, "notes": "热失控 隔热垫 报价"},
                headers=auth(keys["outsider"]),
            )
            raw = response.text
            brief = response.json()["brief"]
            assert not {c["atom_id"] for c in brief["citations"]} & hidden
            for secret in (TEAM_SECRET, PRIVATE_SECRET, SECRET_INDUSTRY):
                assert secret not in raw, (customer, stage, secret)
            if customer == SECRET_CUSTOMER:
                assert not brief["customer_known"] and brief["industry"] is None
                # The name is only where the caller gave it (customer, note), never in points.
                shown = [brief["sections"], brief["citations"], brief["entities"]]
                assert SECRET_CUSTOMER not in json.dumps(shown, ensure_ascii=False)


def test_the_team_and_the_owner_see_their_own(client, keys):
    insider = brief_of(client, keys["insider"], customer=SECRET_CUSTOMER, stage="方案")["brief"]
    assert insider["customer_known"] and insider["industry"] == SECRET_INDUSTRY
    assert any(TEAM_SECRET in t for t in points(insider))
    owner = brief_of(client, keys["owner"], customer="宁德时代", stage="商务谈判")["brief"]
    assert any(PRIVATE_SECRET in t for t in points(owner))
    team_view = brief_of(client, keys["insider"], customer="宁德时代", stage="商务谈判")["brief"]
    assert all(PRIVATE_SECRET not in t for t in points(team_view))


def test_scopes_and_bad_requests(client, keys):
    body = {"customer": "宁德时代", "stage": "技术交流"}
    assert client.post("/v1/briefs", json=body).status_code == 401
    response = client.post("/v1/briefs", json=body, headers=auth(keys["search_only"]))
    assert response.status_code == 403
    response = client.post(
        "/v1/briefs", json={**body, "stage": "闲聊"}, headers=auth(keys["outsider"])
    )
    assert response.status_code == 422 and "线索" in response.json()["detail"]
    response = client.post(
        "/v1/briefs", json={**body, "customer": "  "}, headers=auth(keys["outsider"])
    )
    assert response.status_code == 422
    response = client.post(
        "/v1/briefs", json={**body, "question": "x"}, headers=auth(keys["outsider"])
    )
    assert response.status_code == 422 and "question" in response.json()["detail"]


def test_the_cli_composes_the_same_brief(loaded, settings, monkeypatch):
    env = {
        "SKG_HOME": str(TEST_HOME),
        "NEO4J_PASSWORD": settings.password(),
        "SKG_NEO4J_HOME": str(settings.neo4j_home_path),
        "SKG_NEO4J_BOLT_PORT": str(settings.neo4j_bolt_port),
        "SKG_NEO4J_HTTP_PORT": str(settings.neo4j_http_port),
        "SKG_INDEX_DIR": str(settings.index_path),
    }
    monkeypatch.delenv("NEO4J_URI", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    args = ["brief", "--customer", "宁德时代", "--stage", "技术交流", "--competitor", "锐驰科技"]
    result = CliRunner().invoke(cli_app, [*args, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    brief = json.loads(result.output)
    assert brief["customer_known"] and brief["sections"][0]["heading"] == "方案要点"
    assert brief["sections"][-1]["heading"] == "竞品对比"
    text = CliRunner().invoke(cli_app, args, catch_exceptions=False)
    assert text.exit_code == 0 and "客户简报：宁德时代 · 技术交流" in text.output
    bad = CliRunner().invoke(cli_app, ["brief", "--customer", "x", "--stage", "闲聊"])
    assert bad.exit_code != 0 and "未知阶段" in bad.output
