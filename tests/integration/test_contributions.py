"""The contribution report (贡献度) on the real graph: exact numbers, order, filters, the CLI
and the admin-only API."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import date

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from api.cli import app
from api.keys import ApiKeys
from ingest.pipeline import ingest_paths
from kg.contributions import UNATTRIBUTED, Contribution, day_start
from retrieval.index.sync import sync_index
from tests.conftest import TEST_HOME, wipe_graph
from tests.cypher import cypher

pytestmark = pytest.mark.integration

EAST, SOUTH = "华东大客户部", "华南渠道部"
OLD = "2025-01-01T08:00:00Z"  # before SINCE; everything else is recorded now
SINCE = "2025-06-01"

ZHANG = f"""---
标题: 宁德时代热失控防护案例
负责人: 张三
团队: {EAST}
状态: 已审核
---
## 客户痛点
宁德时代关注热失控防护方案，担心热扩散导致整包起火，需要第三方试验数据支撑。

## 方案要点
采用云母板隔热和定向排气设计，热扩散试验中五分钟内未起火，客户技术负责人认可。
"""

LI = f"""---
标题: 某车企焊装线丢单复盘
负责人: 李四
团队: {SOUTH}
---
## 教训
报价前没有确认客户焊装线的节拍要求，方案被竞品以更短的交付周期击败。
"""

UNSIGNED = """# 储能电站消防术语

## 热失控
热失控是电芯内部放热反应失控、温度急剧上升的现象，是储能电站安全的首要风险。
"""

CRM = [
    {
        "id": "r1",
        "title": "电池包热管理联合方案",
        "text": "液冷板与气凝胶隔热垫组合使用，兼顾快充散热和热扩散防护，适合储能与动力电池。",
        "owner": "李四",
        "contributors": ["张三", "王五"],
        "team": EAST,
        "status": "approved",
    },
    {
        "id": "r2",
        "title": "旧版报价模板",
        "text": "二〇二三年的报价模板，按单台设备计价，已被按产线计价的新模板取代。",
        "owner": "王五",
        "contributors": ["王五"],  # owner and contributor: credited once
        "team": EAST,
        "status": "deprecated",
    },
]

# Expected report, all time: person -> (atoms, approved, citations, answers, helpful,
# not_helpful, used_in_deal, deal_won, deal_lost, score), in the report's order.
ALL_TIME = {
    "张三": (3, 3, 5, 3, 1, 1, 1, 2, 0, 3 + 3 - 2 + 5 + 20),
    "王五": (1, 1, 2, 2, 1, 0, 1, 0, 0, 2 + 3 + 5),
    "李四": (2, 1, 2, 2, 1, 1, 1, 0, 1, 2 + 3 - 2 + 5),
    UNATTRIBUTED: (1, 0, 1, 1, 1, 0, 0, 0, 0, 1 + 3),
}
# Since SINCE, 张三 loses the old answer (one citation) and the old deal won; atoms are not
# dated, so every atom count stays.
SINCE_EXPECTED = {**ALL_TIME, "张三": (3, 3, 4, 2, 1, 1, 1, 1, 0, 2 + 3 - 2 + 5 + 10)}
# Only the atoms of EAST: 李四 keeps R1 alone; the unsigned atom has no team.
EAST_EXPECTED = {
    "张三": ALL_TIME["张三"],
    "王五": ALL_TIME["王五"],
    "李四": (1, 1, 1, 1, 1, 0, 1, 0, 0, 1 + 3 + 5),
}
FIELDS = (
    "atoms",
    "approved",
    "citations",
    "answers",
    "helpful",
    "not_helpful",
    "used_in_deal",
    "deal_won",
    "deal_lost",
    "score",
)


@pytest.fixture(scope="module")
def graph(store, embedder, settings, tmp_path_factory):
    """Six atoms of four 'people' (Z1 Z2: 张三; L1: 李四; U1: unsigned; R1: 李四 with 张三
    and 王五; R2: 王五, deprecated), answers citing them and feedback on them, recorded with
    the store methods the API uses; one answer and one feedback are older than SINCE."""
    wipe_graph(settings)
    folder = tmp_path_factory.mktemp("contrib") / "贡献"
    folder.mkdir()
    (folder / "zhang.md").write_text(ZHANG, encoding="utf-8")
    (folder / "li.md").write_text(LI, encoding="utf-8")
    (folder / "unsigned.md").write_text(UNSIGNED, encoding="utf-8")
    (folder / "crm.jsonl").write_text(
        "\n".join(json.dumps(r, ensure_ascii=False) for r in CRM), encoding="utf-8"
    )
    report = ingest_paths([folder], store)
    assert report.failures == []
    sync_index(store, embedder, settings.index_path)

    rows = cypher(
        store,
        "MATCH (a:Atom)-[:FROM]->(d:Document) RETURN a.id AS id, d.path AS path, "
        "a.section AS section ORDER BY d.path, a.span_start, a.section",
    )
    by_place = {(r["path"], r["section"]): r["id"] for r in rows}
    atom = {
        "Z1": by_place[("zhang.md", "客户痛点")],
        "Z2": by_place[("zhang.md", "方案要点")],
        "L1": by_place[("li.md", "教训")],
        "U1": by_place[("unsigned.md", "热失控")],
        "R1": by_place[("crm.jsonl", "r1")],
        "R2": by_place[("crm.jsonl", "r2")],
    }
    assert len(rows) == len(atom)

    who = {"key_id": "k-test", "team": EAST, "user": "刘晓薇"}
    for answer_id, cited in (
        ("ans-1", ["Z1", "Z2", "R1"]),
        ("ans-2", ["Z1", "L1"]),
        ("ans-3", ["U1", "R2"]),
        ("ans-old", ["Z1"]),
    ):
        ids = [atom[a] for a in cited]
        store.record_answer(answer_id, "问题", "general", ids, channel="typed", **who)
    for feedback_id, kind, cited, answer_id in (
        ("fb-1", "helpful", ["Z1", "Z2", "R1"], "ans-1"),  # on an answer: each cited atom
        ("fb-2", "deal_won", ["Z1"], None),
        ("fb-3", "used_in_deal", ["R1"], None),
        ("fb-4", "not_helpful", ["Z1", "L1"], "ans-2"),
        ("fb-5", "deal_lost", ["L1"], None),
        ("fb-6", "helpful", ["U1"], None),
        ("fb-old", "deal_won", ["Z2"], None),
    ):
        ids = [atom[a] for a in cited]
        store.record_feedback(feedback_id, kind, ids, answer_id, comment=None, deal=None, **who)
    cypher(
        store,
        "MATCH (n) WHERE (n:Answer OR n:Feedback) AND n.id IN $ids "
        "SET n.created_at = datetime($old)",
        ids=["ans-old", "fb-old"],
        old=OLD,
    )
    return store


def numbers(items) -> dict[str, tuple[int, ...]]:
    """person -> counts and score, keeping the report's order."""
    return {c["person"]: tuple(c[f] for f in FIELDS) for c in items}


def report_numbers(report: list[Contribution]) -> dict[str, tuple[int, ...]]:
    return numbers({**asdict(c), "score": c.score} for c in report)


# -- the store ----------------------------------------------------------------------------------
def test_report_counts_exactly_and_orders_by_score(graph):
    rows = report_numbers(graph.contributions())
    assert rows == ALL_TIME
    assert list(rows) == list(ALL_TIME)


def test_repeated_clicks_by_one_rep_count_once(graph):
    ids = [
        r["id"]
        for r in cypher(graph, "MATCH (:Answer {id: 'ans-1'})-[:CITES]->(a) RETURN a.id AS id")
    ]
    who = {"key_id": "k-test", "team": EAST, "user": "刘晓薇"}
    for n in range(3):
        graph.record_feedback(
            f"fb-again-{n}", "helpful", ids, "ans-1", comment=None, deal=None, **who
        )
    try:
        assert report_numbers(graph.contributions()) == ALL_TIME
    finally:
        cypher(graph, "MATCH (f:Feedback) WHERE f.id STARTS WITH 'fb-again-' DETACH DELETE f")


def test_since_counts_only_later_answers_and_feedback(graph):
    rows = report_numbers(graph.contributions(since=day_start(date.fromisoformat(SINCE))))
    assert rows == SINCE_EXPECTED


def test_team_counts_only_that_teams_atoms(graph):
    east = report_numbers(graph.contributions(team=EAST))
    assert east == EAST_EXPECTED
    assert list(east) == list(EAST_EXPECTED)
    assert report_numbers(graph.contributions(team=SOUTH)) == {
        "李四": (1, 0, 1, 1, 0, 1, 0, 0, 1, 1 - 2)  # L1 only: cited once, not helpful, lost
    }
    assert graph.contributions(team="没有这个团队") == []


# -- the CLI ------------------------------------------------------------------------------------
@pytest.fixture
def cli_env(monkeypatch, settings, graph, tmp_path):
    """Point the CLI's own Settings() at the test instance (as in test_cli.py)."""
    monkeypatch.delenv("NEO4J_URI", raising=False)
    for key, value in {
        "SKG_HOME": str(TEST_HOME),
        "NEO4J_PASSWORD": settings.password(),
        "SKG_NEO4J_HOME": str(settings.neo4j_home_path),
        "SKG_NEO4J_BOLT_PORT": str(settings.neo4j_bolt_port),
        "SKG_NEO4J_HTTP_PORT": str(settings.neo4j_http_port),
        "SKG_INDEX_DIR": str(tmp_path / "index"),
    }.items():
        monkeypatch.setenv(key, value)


def skg(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def table_rows(output: str) -> dict[str, tuple[int, ...]]:
    """The table's rows: a person's name, then ten numbers."""
    rows = {}
    for line in output.splitlines():
        cells = line.split()
        if len(cells) == 11 and all(c.lstrip("-").isdigit() for c in cells[1:]):
            rows[cells[0]] = tuple(int(c) for c in cells[1:])
    return rows


def test_cli_prints_a_table_with_chinese_headers(cli_env):
    result = skg("report", "contributions")
    assert result.exit_code == 0, result.output
    for header in ("贡献人", "条数", "审核", "引用", "有用", "商机", "赢单", "丢单", "贡献度"):
        assert header in result.output
    assert "10×赢单" in result.output  # the formula is printed with the table
    rows = table_rows(result.output)
    assert rows == ALL_TIME and list(rows) == list(ALL_TIME)


def test_cli_since_team_limit_and_json(cli_env):
    since = skg("report", "contributions", "--since", SINCE)
    assert since.exit_code == 0, since.output
    assert f"{SINCE} 起" in since.output
    assert table_rows(since.output) == SINCE_EXPECTED

    team = skg("report", "contributions", "--team", EAST, "--json")
    assert team.exit_code == 0, team.output
    payload = json.loads(team.output)
    assert payload["total"] == 3 and numbers(payload["items"]) == EAST_EXPECTED

    limited = skg("report", "contributions", "--limit", "2")
    assert list(table_rows(limited.output)) == ["张三", "王五"]
    assert "showing 2 of 4" in limited.output


def test_cli_rejects_a_bad_date(cli_env):
    result = CliRunner().invoke(app, ["report", "contributions", "--since", "2025/06/01"])
    assert result.exit_code == 2
    assert "%Y-%m-%d" in result.output


# -- the API ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def keys(graph):
    make = ApiKeys(graph).create
    return {
        "admin": make("销售运营", ["admin"])[1],
        "rep": make("crm-华东", ["search", "ask"], team=EAST)[1],
    }


@pytest.fixture(scope="module")
def client(graph, settings):
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        yield c


def get(client, key: str | None, **params):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return client.get("/v1/reports/contributions", params=params, headers=headers)


def test_api_report_pages_and_filters(client, keys):
    response = get(client, keys["admin"])
    assert response.status_code == 200, response.text
    page = response.json()
    assert page["total"] == 4 and page["next_offset"] is None
    assert numbers(page["items"]) == ALL_TIME and [c["person"] for c in page["items"]] == list(
        ALL_TIME
    )

    first = get(client, keys["admin"], limit=3).json()
    rest = get(client, keys["admin"], offset=first["next_offset"], limit=3).json()
    assert (first["total"], first["next_offset"], rest["next_offset"]) == (4, 3, None)
    assert [c["person"] for c in first["items"] + rest["items"]] == list(ALL_TIME)

    assert numbers(get(client, keys["admin"], since=SINCE).json()["items"]) == SINCE_EXPECTED
    east = get(client, keys["admin"], team=EAST).json()
    assert east["total"] == 3 and numbers(east["items"]) == EAST_EXPECTED


def test_api_report_needs_the_admin_scope(client, keys):
    assert get(client, None).status_code == 401
    response = get(client, keys["rep"])
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden" and "admin" in response.json()["detail"]
    bad = get(client, keys["admin"], since="2025-13-01")
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_request"


def test_openapi_documents_the_report_and_its_score(client):
    schema = client.get("/openapi.json").json()
    operation = schema["paths"]["/v1/reports/contributions"]["get"]
    assert operation["operationId"] == "contributions"
    assert {"401", "403", "422", "503"} <= set(operation["responses"])
    score = schema["components"]["schemas"]["ContributionPublic"]["properties"]["score"]
    assert "10×deal_won" in score["description"]
