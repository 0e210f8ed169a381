"""Every key is an adversary: several teams and users, with keys of every scope, upload
documents with colliding names and spoofed front matter, then try to read, overwrite and
delete each other's knowledge through every endpoint and the CLI. Zero may succeed.

The teams, users, secret words and the order of uploads are drawn at random on each run
(``SKG_TEST_SEED`` replays one); every assertion message carries the seed.
"""

from __future__ import annotations

import os
import random
import shutil
import time
from dataclasses import dataclass, field

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from api.cli import app as cli_app
from api.keys import ApiKeys
from ingest.pipeline import ingest_paths
from retrieval.index.sync import sync_index
from tests.conftest import SAMPLES, TEST_HOME, wipe_graph

pytestmark = pytest.mark.integration

SEED = int(os.environ.get("SKG_TEST_SEED", str(random.SystemRandom().randrange(10**6))))
TEAM_POOL = ["华东大客户部", "华南渠道部", "西北储能组", "华北汽车组", "西南医疗组"]
PEOPLE = ["王磊", "李娜", "张伟", "刘洋", "陈静", "杨帆", "赵敏", "周杰"]
COLLIDING = "客户拜访策略.md"  # every team uploads a file of this name to the same collection
COLLECTION = "共享名称"
PUBLIC_FILES = [
    SAMPLES / "cases" / "catl-thermal-runaway.md",
    SAMPLES / "customers" / "customers.csv",
]


@dataclass
class Team:
    name: str
    users: list[str]
    secret: str  # a word only this team's documents contain
    customer: str  # a customer only this team's documents name
    industry: str  # an industry only this team's documents name
    alias: str  # this team's own nickname for the public customer 宁德时代
    private_secret: str  # a word only the first user's private note contains
    keys: dict[str, str] = field(default_factory=dict)


def _token(rng: random.Random, prefix: str) -> str:
    return prefix + "".join(rng.choice("甲乙丙丁戊己庚辛壬癸子丑寅卯辰巳午未") for _ in range(3))


@pytest.fixture(scope="module")
def world(store, embedder, settings, tmp_path_factory):
    """A graph with public sample knowledge, and teams with keys of every scope."""
    rng = random.Random(SEED)
    wipe_graph(settings)
    public = tmp_path_factory.mktemp("public") / "公开资料"
    public.mkdir()
    for path in PUBLIC_FILES:
        shutil.copy(path, public / path.name)
    assert ingest_paths([public], store).failures == []
    index = tmp_path_factory.mktemp("isolation-index")
    sync_index(store, embedder, index)
    names = rng.sample(TEAM_POOL, 3)
    people = rng.sample(PEOPLE, 6)
    teams = []
    api_keys = ApiKeys(store)
    for i, name in enumerate(names):
        team = Team(
            name=name,
            users=people[2 * i : 2 * i + 2],
            secret=_token(rng, "机密"),
            customer=_token(rng, "隐客户"),
            industry=_token(rng, "隐行业"),
            alias=_token(rng, "暗号"),
            private_secret=_token(rng, "私密"),
        )
        make = api_keys.create
        team.keys = {
            "ingest": make(f"{name}-导入", ["ingest", "search", "ask"], team=name)[1],
            "reader": make(f"{name}-只读", ["search"], team=name)[1],
            "asker": make(f"{name}-问答", ["ask"], team=name)[1],
            "user0": make(team.users[0], ["ingest", "search", "ask"], name, team.users[0])[1],
            "user1": make(team.users[1], ["ingest", "search", "ask"], name, team.users[1])[1],
        }
        teams.append(team)
    extra = {
        "public": api_keys.create("公共CRM", ["search", "ask"])[1],
        "admin": api_keys.create("运维", ["admin", "ingest", "search", "ask"])[1],
        "no_owner_ingest": api_keys.create("无主导入", ["ingest"])[1],
    }
    return teams, extra, index


@pytest.fixture(scope="module")
def client(world, settings):
    _, _, index = world
    app_settings = settings.model_copy(
        update={"auth_cache_seconds": 0.0, "index_dir": index, "index_refresh_seconds": 0.0}
    )
    with TestClient(create_app(app_settings), raise_server_exceptions=False) as c:
        yield c


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def upload(client, key, files, **form):
    """Upload and wait for the job; returns (status, job or error body)."""
    payload = [("files", (name, body.encode("utf-8"), "text/markdown")) for name, body in files]
    response = client.post("/v1/ingest", files=payload, data=form, headers=auth(key))
    if response.status_code != 202:
        return response.status_code, response.json()
    job_id = response.json()["id"]
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        job = client.get(f"/v1/ingest/jobs/{job_id}", headers=auth(key)).json()
        if job["state"] in {"succeeded", "failed"}:
            return 202, job
        time.sleep(0.5)
    raise AssertionError(f"seed {SEED}: job {job_id} did not finish")


def team_doc(team: Team) -> str:
    return f"""---
客户: {team.customer}
行业: {team.industry}
可见范围: 团队
---
# {team.name}的客户拜访策略

## 推荐话术
{team.secret}：拜访{team.customer}时先讲热失控防护方案的试验数据，再讲报价，{team.industry}客户最看重交付周期。

## 竞品应对
{team.secret}：{team.customer}的采购关心总拥有成本，竞品低价切入时用热扩散试验报告回应。
"""


def team_customers(team: Team) -> str:
    return f"客户,别名,行业\n宁德时代,{team.alias},动力电池\n{team.customer},,{team.industry}\n"


def private_note(team: Team) -> str:
    return f"""---
可见范围: 个人
---
# 私人笔记

## 拜访笔记
{team.private_secret}：宁德时代采购负责人私下提到热失控防护方案预算在第三季度释放。
"""


def graph_atoms(store, contains: str) -> list[dict]:
    records, _, _ = store._driver.execute_query(
        "MATCH (a:Atom)-[:FROM]->(d:Document) WHERE a.text CONTAINS $w "
        "RETURN a.id AS id, a.text AS text, a.team AS team, a.owner AS owner, "
        "a.status AS status, a.visibility AS visibility, d.id AS doc, a.version AS version",
        w=contains,
    )
    return [r.data() for r in records]


@pytest.fixture(scope="module")
def uploaded(client, world, store):
    """Each team uploads, in a random order: a team document and a customer list under
    names every team uses, and its first user a private note; then everything an attacker
    tries to write."""
    teams, _, _ = world
    rng = random.Random(SEED + 1)
    order = [(t, kind) for t in teams for kind in ("doc", "private")]
    rng.shuffle(order)
    for team, kind in order:
        if kind == "doc":
            status, job = upload(
                client,
                team.keys["ingest"],
                [(COLLIDING, team_doc(team)), ("客户名单.csv", team_customers(team))],
                collection=COLLECTION,
            )
        else:
            status, job = upload(
                client, team.keys["user0"], [("私人笔记.md", private_note(team))], collection="笔记"
            )
        assert status == 202 and job["state"] == "succeeded", (SEED, job)
        assert job["report"]["failures"] == [], (SEED, job)
    return {t.name: {"doc": graph_atoms(store, t.secret)} for t in teams}


def others(teams: list[Team], team: Team) -> list[Team]:
    return [t for t in teams if t is not team]


def hidden_words(team: Team) -> list[str]:
    return [team.secret, team.customer, team.industry, team.alias, team.private_secret]


# -- writes -----------------------------------------------------------------------------------
def test_colliding_names_make_separate_documents_owned_by_each_team(world, uploaded, store):
    teams, _, _ = world
    docs = set()
    for team in teams:
        atoms = uploaded[team.name]["doc"]
        assert len(atoms) == 2, (SEED, team.name, atoms)
        assert all(a["team"] == team.name and a["visibility"] == "team" for a in atoms), SEED
        docs |= {a["doc"] for a in atoms}
        for other in others(teams, team):
            assert not any(other.secret in a["text"] for a in atoms), SEED
    assert len(docs) == len(teams), (SEED, "one document per team despite the same file name")


def test_no_team_can_overwrite_or_delete_another_teams_document(client, world, uploaded, store):
    """An attacker re-uploads the colliding name with its own text and without the victims'
    sections (which would overwrite one and delete the other were the document shared)."""
    teams, _, _ = world
    attacker = random.Random(SEED + 2).choice(teams)
    before = {t.name: graph_atoms(store, t.secret) for t in teams}
    hostile = f"# 覆盖\n\n## 推荐话术\n{attacker.secret}覆盖：同名文件换成这段文字。\n"
    status, job = upload(
        client, attacker.keys["ingest"], [(COLLIDING, hostile)], collection=COLLECTION
    )
    assert status == 202 and job["state"] == "succeeded", (SEED, job)
    for victim in others(teams, attacker):
        after = [a for a in graph_atoms(store, victim.secret) if "覆盖" not in a["text"]]
        assert sorted((a["id"], a["version"], a["text"], a["team"]) for a in after) == sorted(
            (a["id"], a["version"], a["text"], a["team"]) for a in before[victim.name]
        ), (SEED, victim.name)
    mine = graph_atoms(store, attacker.secret + "覆盖")
    assert mine and all(a["team"] == attacker.name for a in mine), (SEED, mine)
    assert {a["doc"] for a in mine} == {a["doc"] for a in uploaded[attacker.name]["doc"]}, SEED


def test_front_matter_cannot_claim_another_team_owner_or_approval(client, world, store):
    teams, _, _ = world
    attacker, victim = teams[0], teams[1]
    spoof = f"""---
团队: {victim.name}
负责人: {victim.users[0]}
状态: 已审核
---
# 冒充的知识

## 推荐话术
冒充{attacker.secret}：这条知识假装是{victim.name}审核过的。
"""
    named = f"""---
负责人: {victim.users[0]}
---
# 冒名

## 推荐话术
冒名{attacker.secret}：这条知识假装出自{victim.users[0]}。
"""
    approved = f"""---
状态: 已审核
---
# 自审

## 推荐话术
自审{attacker.secret}：导入密钥不能自己审核知识，只能以草稿导入。
"""
    status, job = upload(
        client,
        attacker.keys["ingest"],
        [("冒充.md", spoof), ("冒名.md", named), ("自审.md", approved)],
    )
    assert status == 202, (SEED, job)
    failed = {f["file"] for f in job["report"]["failures"]}
    assert failed == {"冒充.md", "冒名.md"}, (SEED, job["report"])
    assert not graph_atoms(store, "冒充" + attacker.secret), SEED
    assert not graph_atoms(store, "冒名" + attacker.secret), SEED
    [landed] = graph_atoms(store, "自审" + attacker.secret)
    assert landed["status"] == "draft" and landed["team"] == attacker.name, (SEED, landed)
    assert job["report"]["warnings"], (SEED, job["report"])
    form = client.post(
        "/v1/ingest",
        files=[("files", ("x.md", "## 标题\n足够长的一段正文内容。".encode(), "text/md"))],
        data={"status": "approved"},
        headers=auth(attacker.keys["ingest"]),
    )
    assert form.status_code == 403, (SEED, form.text)


def test_a_colleagues_private_note_cannot_be_overwritten(client, world, store):
    teams, _, _ = world
    team = teams[0]
    before = graph_atoms(store, team.private_secret)
    assert len(before) == 1 and before[0]["owner"] == team.users[0], (SEED, before)
    status, job = upload(
        client,
        team.keys["user1"],
        [("私人笔记.md", "# 私人笔记\n\n## 拜访笔记\n同事的内容想覆盖这份笔记，应该被拒绝。\n")],
        collection="笔记",
    )
    assert status == 202 and [f["file"] for f in job["report"]["failures"]] == ["私人笔记.md"]
    assert graph_atoms(store, team.private_secret) == before, SEED


def test_an_ingest_key_without_team_or_user_cannot_write(client, world):
    _, extra, _ = world
    status, body = upload(
        client, extra["no_owner_ingest"], [("a.md", "## 标题\n足够长的一段正文内容。")]
    )
    assert status == 403, (SEED, body)


def test_the_cli_never_removes_or_changes_team_documents(
    world, uploaded, store, settings, tmp_path
):
    """The operator's CLI syncs a folder named like the teams' collection, then empties it:
    the organisation's document comes and goes, the teams' documents stay."""
    teams, _, _ = world
    folder = tmp_path / COLLECTION
    folder.mkdir()
    (folder / COLLIDING).write_text(
        "# 公司版拜访策略\n\n## 推荐话术\n公司版内容：拜访客户前先准备热失控试验数据。\n",
        encoding="utf-8",
    )
    env = {
        "SKG_HOME": str(TEST_HOME),
        "NEO4J_PASSWORD": settings.password(),
        "SKG_NEO4J_HOME": str(settings.neo4j_home_path),
        "SKG_NEO4J_BOLT_PORT": str(settings.neo4j_bolt_port),
        "SKG_NEO4J_HTTP_PORT": str(settings.neo4j_http_port),
        "SKG_INDEX_DIR": str(tmp_path / "index"),
    }
    before = {t.name: graph_atoms(store, t.secret) for t in teams}
    runner = CliRunner()
    result = runner.invoke(cli_app, ["ingest", str(folder)], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert graph_atoms(store, "公司版内容")
    (folder / COLLIDING).unlink()
    (folder / "其他.md").write_text("# 其他\n\n## 要点\n其他内容：与拜访策略无关的一段文字。\n")
    result = runner.invoke(cli_app, ["ingest", str(folder)], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert not graph_atoms(store, "公司版内容"), "the operator's own document left with its file"
    for team in teams:
        assert graph_atoms(store, team.secret) == before[team.name], (SEED, team.name)


# -- reads ------------------------------------------------------------------------------------
def _all_text(payload) -> str:
    import json

    return json.dumps(payload, ensure_ascii=False)


def readers(team: Team, teams: list[Team], extra: dict[str, str]) -> list[tuple[str, str]]:
    """Every key that must not see ``team``'s knowledge: other teams' keys of every scope,
    the public key and the admin key (admin is not a team member)."""
    keys = [(f"{t.name}:{role}", k) for t in others(teams, team) for role, k in t.keys.items()]
    return [*keys, ("public", extra["public"]), ("admin", extra["admin"])]


def test_search_and_answers_never_show_another_teams_knowledge_or_names(client, world, uploaded):
    teams, extra, _ = world
    for team in teams:
        words = hidden_words(team)
        questions = [
            f"{team.customer}的拜访策略",
            f"{team.alias}热失控防护方案怎么讲",
            f"{team.secret}",
            f"{team.industry}客户关注什么",
        ]
        for label, key in readers(team, teams, extra):
            for question in questions:
                for path, body in (
                    ("/v1/search", {"query": question, "top_k": 50}),
                    ("/v1/ask", {"question": question}),
                ):
                    response = client.post(path, json=body, headers=auth(key))
                    if response.status_code == 403:
                        continue  # the key lacks this scope
                    assert response.status_code == 200, (SEED, label, response.text)
                    text = _all_text(response.json()).replace(question, "")
                    leaked = [w for w in words if w in text]
                    assert not leaked, (SEED, label, path, question, leaked)


def test_the_owning_team_sees_its_knowledge_and_names(client, world, uploaded):
    teams, _, _ = world
    for team in teams:
        response = client.post(
            "/v1/search",
            json={"query": f"{team.alias}热失控防护方案怎么讲", "top_k": 20},
            headers=auth(team.keys["reader"]),
        ).json()
        assert (
            "宁德时代" in [e for e in response["entities"]] or team.alias in response["entities"]
        ), (SEED, response["entities"])
        found = client.get(
            "/v1/entities", params={"q": team.customer}, headers=auth(team.keys["reader"])
        ).json()
        assert found["total"] == 1, (SEED, found)


def test_entities_aliases_relations_and_counts_stay_inside_the_team(client, world, uploaded):
    teams, extra, _ = world
    for team in teams:
        for label, key in readers(team, teams, extra):
            if "asker" in label:
                continue  # ask-only keys read no entity pages
            for q in (team.customer, team.alias, team.industry):
                page = client.get("/v1/entities", params={"q": q}, headers=auth(key)).json()
                assert page["total"] == 0 and page["items"] == [], (SEED, label, q, page)
            for kind in ("customer", "industry"):
                name = team.customer if kind == "customer" else team.industry
                detail = client.get(f"/v1/entities/{kind}:{name}", headers=auth(key))
                assert detail.status_code == 404, (SEED, label, detail.text)
            catl = client.get("/v1/entities/customer:宁德时代", headers=auth(key)).json()
            text = _all_text(catl)
            assert not [w for w in hidden_words(team) if w in text], (SEED, label)
            offset = 0
            while offset is not None:
                listing = client.get(
                    "/v1/entities", params={"limit": 100, "offset": offset}, headers=auth(key)
                ).json()
                assert not [w for w in hidden_words(team) if w in _all_text(listing)], (SEED, label)
                offset = listing["next_offset"]


def test_atoms_feedback_and_jobs_of_another_team_are_404(client, world, uploaded, store):
    teams, extra, _ = world
    for team in teams:
        ids = [a["id"] for a in uploaded[team.name]["doc"]]
        ids += [a["id"] for a in graph_atoms(store, team.private_secret)]
        for label, key in readers(team, teams, extra):
            for atom_id in ids:
                read = client.get(f"/v1/atoms/{atom_id}", headers=auth(key))
                assert read.status_code in (403, 404), (SEED, label, read.text)
                vote = client.post(
                    "/v1/feedback", json={"kind": "helpful", "atom_id": atom_id}, headers=auth(key)
                )
                assert vote.status_code in (403, 404), (SEED, label, vote.text)
        listing = client.get("/v1/ingest/jobs", headers=auth(team.keys["ingest"])).json()
        for job in listing["items"]:
            for other in others(teams, team):
                seen = client.get(
                    f"/v1/ingest/jobs/{job['id']}", headers=auth(other.keys["ingest"])
                )
                assert seen.status_code == 404, (SEED, seen.text)


def test_a_teammate_sees_team_knowledge_but_not_a_colleagues_private_note(
    client, world, uploaded, store
):
    teams, _, _ = world
    team = teams[0]
    [note] = graph_atoms(store, team.private_secret)
    assert (
        client.get(f"/v1/atoms/{note['id']}", headers=auth(team.keys["user0"])).status_code == 200
    )
    assert (
        client.get(f"/v1/atoms/{note['id']}", headers=auth(team.keys["user1"])).status_code == 404
    )
    doc_atom = uploaded[team.name]["doc"][0]["id"]
    assert client.get(f"/v1/atoms/{doc_atom}", headers=auth(team.keys["user1"])).status_code == 200
