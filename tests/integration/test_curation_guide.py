"""The curators' guide (curation/*.cypher), run for real on the ingested samples.

Each query runs as a curator runs it in Neo4j Browser: the ``// :param name => value`` lines
of its header give the parameters (their right-hand sides are evaluated by the server, as
Browser does), and a test overrides the values it needs, such as which atom to approve.
"""

from __future__ import annotations

import base64
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from neo4j.exceptions import ClientError
from playwright.sync_api import expect, sync_playwright

from ingest.pipeline import ingest_paths
from tests.conftest import ROOT, SAMPLES, wipe_graph
from tests.cypher import cypher as records
from tests.integration.pages import OUTPUT

pytestmark = pytest.mark.integration

GUIDE = ROOT / "curation"
PARAM_LINE = re.compile(r"^// :param (\w+) => (.+)$", re.MULTILINE)
PARAM_USE = re.compile(r"\$(\w+)")
RUN_CALL = re.compile(r"""\brun\(\s*\w+,\s*"([\w-]+)\"""")
CURATOR = "测试员"

_ran: set[str] = set()


@dataclass(frozen=True)
class GuideQuery:
    """One file of the guide: its header's parameters and the Cypher below the header."""

    name: str
    text: str
    params: dict[str, str]  # parameter -> the Cypher expression after `=>` in the header

    @classmethod
    def load(cls, name: str) -> GuideQuery:
        text = (GUIDE / f"{name}.cypher").read_text(encoding="utf-8")
        return cls(name, text, dict(PARAM_LINE.findall(text)))

    @property
    def header(self) -> list[str]:
        return [line for line in self.text.splitlines() if line.startswith("//")]

    @property
    def used(self) -> set[str]:
        body = "\n".join(line for line in self.text.splitlines() if not line.startswith("//"))
        return set(PARAM_USE.findall(body))


def guide_names() -> list[str]:
    return sorted(path.stem for path in GUIDE.glob("*.cypher"))


def run(store, name: str, /, **values: Any) -> list[dict[str, Any]]:
    """Run a guide query with its header's parameters, overridden by ``values``."""
    query = GuideQuery.load(name)
    assert set(values) <= set(query.params), (
        f"{name} has no :param {set(values) - set(query.params)}"
    )
    # What Browser does with `:param x => expr`: the server evaluates `RETURN expr`. The
    # expressions come from our own files, not from users.
    params = {
        key: records(store, f"RETURN {expr} AS value")[0]["value"]
        for key, expr in query.params.items()
    }
    params.update(values)
    _ran.add(name)
    return [record.data() for record in records(store, query.text, **params)]


def cypher(store, query: str, **params: Any) -> list[dict[str, Any]]:
    return [record.data() for record in records(store, query, **params)]


def atom(store, atom_id: str) -> dict[str, Any] | None:
    rows = cypher(store, "MATCH (a:Atom {id: $id}) RETURN properties(a) AS a", id=atom_id)
    return rows[0]["a"] if rows else None


def atoms_of(store, path: str) -> list[str]:
    """The atom ids of one sample document, in document order."""
    rows = cypher(
        store,
        "MATCH (a:Atom)-[:FROM]->(:Document {path: $path}) RETURN a.id AS id ORDER BY a.span_start",
        path=path,
    )
    assert rows, path
    return [r["id"] for r in rows]


def snapshots(store, atom_id: str) -> list[dict[str, Any]]:
    return cypher(
        store,
        "MATCH (v:AtomVersion {atom_id: $id}) "
        "RETURN properties(v) AS v, EXISTS { (v)-[:VERSION_OF]->() } AS attached "
        "ORDER BY v.changed_at, v.version",
        id=atom_id,
    )


@pytest.fixture(scope="module")
def graph(store, settings):
    """The samples ingested (without the search index: these queries need none). Emptied
    afterwards: the tests leave made-up entities, feedback and merged atoms behind."""
    wipe_graph(settings)
    report = ingest_paths([SAMPLES], store)
    assert report.failures == []
    yield store
    wipe_graph(settings)


# -- the files themselves ---------------------------------------------------------------------
@pytest.mark.parametrize("name", guide_names())
def test_each_query_has_a_bilingual_header_declaring_exactly_its_parameters(name):
    query = GuideQuery.load(name)
    number = name.split("-")[0]
    title = query.header[0]
    # Browser names a favourite after its first comment line, and sorts favourites by name.
    assert re.fullmatch(rf"// {number} \S+.* [A-Z][\w' ]+.*", title), title
    assert re.search(r"[\u4e00-\u9fff]", title)
    header = "\n".join(query.header)
    assert "作用" in header and "What:" in header and "参数 Parameters" in header
    assert query.used == set(query.params), f"{name}: uses {query.used}, declares {query.params}"
    # One statement: with Browser's multi-statement editor a `;` would split it.
    assert ";" not in query.text
    # A change to an atom's content or state: snapshot first, then bump the version and say who.
    if ".version + 1" in query.text:
        assert query.text.index("CREATE (v") < query.text.index(".version + 1"), name
        assert "updated_by = $curator" in query.text, name


# -- reviewing drafts ----------------------------------------------------------------------
def test_review_drafts_lists_recent_drafts_newest_first(graph):
    flagged = atoms_of(graph, "cases/anhe-mri-humidity.md")[0]
    cypher(
        graph,
        "MATCH (a:Atom {id: $id}) SET a.review = 'stale', a.updated_at = datetime()",
        id=flagged,
    )
    rows = run(graph, "01-review-drafts")
    assert len(rows) >= 100
    assert rows[0]["编号"] == flagged and rows[0]["待审原因"] == "stale"
    dates = [r["更新日期"] for r in rows]
    assert dates == sorted(dates, reverse=True)
    assert {"编号", "标题", "来源文件", "待审原因"} <= set(rows[0])
    statuses = cypher(
        graph,
        "UNWIND $ids AS id MATCH (a:Atom {id: id}) RETURN DISTINCT a.status AS s",
        ids=[r["编号"] for r in rows],
    )
    assert statuses == [{"s": "draft"}]
    assert run(graph, "01-review-drafts", days=0) == []
    cypher(graph, "MATCH (a:Atom {id: $id}) SET a.review = null", id=flagged)


def test_find_atoms_by_keyword(graph):
    rows = run(graph, "03-find-atoms")
    assert len(rows) >= 3
    for row in rows:
        found = atom(graph, row["编号"])
        assert "热失控" in found["title"] + found["text"]
    one = rows[0]["编号"]
    assert [r["编号"] for r in run(graph, "03-find-atoms", keyword=one)] == [one]


def test_approve_snapshots_bumps_the_version_and_clears_stale_or_disputed(graph):
    stale, changed = atoms_of(graph, "cases/beichen-grid-forming-pcs.md")[:2]
    cypher(
        graph,
        "MATCH (a:Atom {id: $stale}) SET a.review = 'stale', a.review_note = 'old' "
        "WITH a MATCH (b:Atom {id: $changed}) SET b.review = 'source_changed'",
        stale=stale,
        changed=changed,
    )
    before = atom(graph, stale)
    rows = run(graph, "04-approve", id=stale, curator=CURATOR)
    assert rows[0]["状态"] == "approved" and rows[0]["审核人"] == CURATOR
    after = atom(graph, stale)
    assert after["status"] == "approved" and after["verified_by"] == CURATOR
    assert after["version"] == before["version"] + 1
    assert after["updated_by"] == CURATOR and after["verified_at"] is not None
    assert "review" not in after and "review_note" not in after
    assert after["text"] == before["text"] and "curated_at" not in after
    [snap] = snapshots(graph, stale)
    assert snap["attached"]
    assert snap["v"]["reason"] == "approve" and snap["v"]["changed_by"] == CURATOR
    assert snap["v"]["version"] == before["version"] and snap["v"]["status"] == "draft"
    assert snap["v"]["text"] == before["text"] and snap["v"]["type"] == before["type"]

    run(graph, "04-approve", id=changed, curator=CURATOR)
    assert atom(graph, changed)["review"] == "source_changed"  # only 07/08 resolve it

    with pytest.raises(ClientError, match="No atom with id atom-missing"):
        run(graph, "04-approve", id="atom-missing", curator=CURATOR)
    with pytest.raises(ClientError, match="Set your name first"):
        run(graph, "04-approve", id=stale, curator=" ")
    assert len(snapshots(graph, stale)) == 1


def test_deprecate(graph):
    target = atoms_of(graph, "cases/beichen-grid-forming-pcs.md")[2]
    cypher(graph, "MATCH (a:Atom {id: $id}) SET a.review = 'disputed'", id=target)
    version = atom(graph, target)["version"]
    run(graph, "05-deprecate", id=target, curator=CURATOR)
    after = atom(graph, target)
    assert after["status"] == "deprecated" and "review" not in after
    assert after["version"] == version + 1 and after["updated_by"] == CURATOR
    assert [s["v"]["reason"] for s in snapshots(graph, target)] == ["deprecate"]


def test_edit_changes_the_text_clears_the_embedding_and_marks_the_atom_curated(graph):
    target = atoms_of(graph, "cases/byd-bms-cloud-early-warning.md")[0]
    cypher(
        graph,
        "MATCH (a:Atom {id: $id}) SET a.embedding = [x IN range(1, 384) | 0.01]",
        id=target,
    )
    before = atom(graph, target)
    new_text = "【比亚迪 · 背景】修改后的正文。\n第二行。"
    rows = run(graph, "06-edit-atom", id=target, text=new_text, curator=CURATOR)
    assert rows[0]["正文"] == new_text
    after = atom(graph, target)
    assert after["text"] == new_text and after["title"] == before["title"]
    assert "embedding" not in after
    assert after["curated_by"] == CURATOR and after["curated_at"] is not None
    assert after["version"] == before["version"] + 1
    assert after["content_hash"] == before["content_hash"]  # the source's hash, for ingest
    [snap] = snapshots(graph, target)
    assert snap["v"]["reason"] == "edit" and snap["v"]["text"] == before["text"]

    run(graph, "06-edit-atom", id=target, title="新标题", text=None, curator=CURATOR)
    assert atom(graph, target)["title"] == "新标题"
    assert atom(graph, target)["text"] == new_text
    with pytest.raises(ClientError, match="Set a new title or text"):
        run(graph, "06-edit-atom", id=target, title=None, text="  ", curator=CURATOR)


# -- source changes held back by ingest ------------------------------------------------------
def _hold(store, atom_id: str, title: str | None, text: str | None) -> None:
    """What ingest does when the source of a curated atom changes (or loses the section)."""
    cypher(
        store,
        "MATCH (a:Atom {id: $id}) "
        "SET a.curated_at = datetime(), a.curated_by = '前任', a.review = 'source_changed', "
        "    a.review_note = 'held', a.pending_title = $title, a.pending_text = $text, "
        "    a.pending_hash = CASE WHEN $text IS NULL THEN null ELSE 'new-hash' END, "
        "    a.pending_at = CASE WHEN $text IS NULL THEN null ELSE datetime() END",
        id=atom_id,
        title=title,
        text=text,
    )


def test_needs_review_shows_the_held_back_source_text_beside_the_current_one(graph):
    held, removed, stale = atoms_of(graph, "cases/chayu-ai-sales-coach.md")[:3]
    _hold(graph, held, "来源新标题", "来源新正文")
    _hold(graph, removed, None, None)
    cypher(graph, "MATCH (a:Atom {id: $id}) SET a.review = 'stale'", id=stale)
    rows = {r["编号"]: r for r in run(graph, "02-needs-review")}
    assert rows[held]["来源新正文"] == "来源新正文" and rows[held]["来源新标题"] == "来源新标题"
    assert rows[held]["当前正文"] == atom(graph, held)["text"]
    assert rows[held]["原因"].endswith("source_changed")
    assert "removed from the source" in rows[removed]["来源新正文"]
    assert rows[stale]["原因"].endswith("stale") and rows[stale]["来源新正文"] is None
    order = [r["原因"] for r in rows.values()]
    assert order.index(rows[held]["原因"]) < order.index(rows[stale]["原因"])


def test_accept_source_change_takes_the_pending_text(graph):
    target, plain = atoms_of(graph, "cases/chip-design-domestic-eda.md")[:2]
    _hold(graph, target, "来源新标题", "来源新正文")
    before = atom(graph, target)
    run(graph, "07-accept-source-change", id=target, curator=CURATOR)
    after = atom(graph, target)
    assert after["title"] == "来源新标题" and after["text"] == "来源新正文"
    assert after["content_hash"] == "new-hash"
    for gone in ("pending_title", "pending_text", "pending_hash", "pending_at", "review"):
        assert gone not in after
    assert after["updated_by"] == CURATOR and after["version"] == before["version"] + 1
    assert "curated_at" not in after, "back in step with its source: later changes flow in"
    [snap] = snapshots(graph, target)
    assert snap["v"]["reason"] == "accept_source" and snap["v"]["text"] == before["text"]
    with pytest.raises(ClientError, match="no held-back source change"):
        run(graph, "07-accept-source-change", id=plain, curator=CURATOR)


def test_reject_source_change_keeps_the_curated_text(graph):
    held, removed = atoms_of(graph, "cases/chip-design-domestic-eda.md")[2:4]
    _hold(graph, held, "来源新标题", "来源新正文")
    _hold(graph, removed, None, None)
    before = atom(graph, held)
    run(graph, "08-reject-source-change", id=held, curator=CURATOR)
    after = atom(graph, held)
    assert after["text"] == before["text"] and after["title"] == before["title"]
    assert after["content_hash"] == "new-hash"  # in step with the source: no new hold
    assert not {"pending_text", "pending_title", "review", "review_note"} & set(after)
    assert [s["v"]["reason"] for s in snapshots(graph, held)] == ["reject_source"]
    run(graph, "08-reject-source-change", id=removed, curator=CURATOR)
    assert "review" not in atom(graph, removed)
    with pytest.raises(ClientError, match="not flagged source_changed"):
        run(graph, "08-reject-source-change", id=removed, curator=CURATOR)


# -- duplicates ----------------------------------------------------------------------------
def test_merge_two_duplicate_atoms_moves_every_relationship_onto_the_kept_one(graph):
    keep = atoms_of(graph, "cases/catl-thermal-runaway.md")[0]
    drop = atoms_of(graph, "cases/energy-storage-fire-safety.md")[0]
    third = atoms_of(graph, "cases/starchi-pack-thermal-propagation.md")[0]
    cypher(
        graph,
        """
        MATCH (k:Atom {id: $keep}), (d:Atom {id: $drop}), (t:Atom {id: $third})
        MERGE (d)-[:DUPLICATE_OF {similarity: 0.93}]->(k)
        MERGE (t)-[:DUPLICATE_OF {similarity: 0.85}]->(d)
        MERGE (t)-[:DUPLICATE_OF {similarity: 0.84}]->(k)
        CREATE (e:Entity:Thing {id: 'thing:合并测试', name: '合并测试', kind: 'Thing', aliases: []})
        CREATE (d)-[:MENTIONS]->(e)
        CREATE (:Feedback {id: 'fb-merge', kind: 'not_helpful', created_at: datetime()})
               -[:ABOUT]->(d)
        CREATE (ans:Answer {id: 'ans-merge', question: 'q', created_at: datetime()})
        CREATE (ans)-[:CITES {rank: 1}]->(k), (ans)-[:CITES {rank: 2}]->(d)
        SET d.owner = '李四', d.contributors = ['王五'], d.review = 'disputed',
            d.pending_text = 'should not leak', k.owner = '张三', k.contributors = []
        """,
        keep=keep,
        drop=drop,
        third=third,
    )
    pairs = run(graph, "09-near-duplicates")
    assert pairs[0]["相似度"] == 0.93 and (pairs[0]["编号A"], pairs[0]["编号B"]) == (drop, keep)
    before = atom(graph, keep)
    mentions_before = cypher(
        graph,
        "MATCH (a:Atom)-[:MENTIONS]->(e) WHERE a.id IN [$k, $d] RETURN collect(DISTINCT e.id) AS e",
        k=keep,
        d=drop,
    )[0]["e"]

    [row] = run(graph, "10-merge-atoms", keep_id=keep, drop_id=drop, curator=CURATOR)
    assert row["保留编号"] == keep and row["反馈数"] == 1
    assert atom(graph, drop) is None
    after = atom(graph, keep)
    assert {
        k: v
        for k, v in after.items()
        if k not in {"version", "updated_at", "updated_by", "contributors"}
    } == {
        k: v
        for k, v in before.items()
        if k not in {"version", "updated_at", "updated_by", "contributors"}
    }
    assert after["version"] == before["version"] + 1 and after["updated_by"] == CURATOR
    assert after["contributors"] == ["李四", "王五"]
    facts = cypher(
        graph,
        """
        MATCH (k:Atom {id: $keep})
        RETURN COLLECT { MATCH (k)-[:MENTIONS]->(e) RETURN e.id } AS mentions,
               COUNT { (k)-[:FROM]->() } AS sources,
               COUNT { (k)-[:DUPLICATE_OF]-(k) } AS loops,
               COUNT { (:Atom {id: $third})-[:DUPLICATE_OF]->(k) } AS third_links,
               COUNT { (:Answer {id: 'ans-merge'})-[:CITES]->(k) } AS cites,
               COUNT { (:Feedback {id: 'fb-merge'})-[:ABOUT]->(k) } AS feedback
        """,
        keep=keep,
        third=third,
    )[0]
    assert sorted(facts.pop("mentions")) == sorted(mentions_before)
    assert "thing:合并测试" in mentions_before
    assert facts == {"sources": 1, "loops": 0, "third_links": 1, "cites": 1, "feedback": 1}
    merged = {s["v"]["atom_id"]: s for s in snapshots(graph, keep) + snapshots(graph, drop)}
    assert {s["v"]["reason"] for s in merged.values()} == {"merge"}
    assert set(merged) == {keep, drop} and all(s["attached"] for s in merged.values())
    history = run(graph, "26-atom-history", id=keep)
    assert {r["原子编号"] for r in history} == {keep, drop}

    with pytest.raises(ClientError, match="same atom"):
        run(graph, "10-merge-atoms", keep_id=keep, drop_id=keep, curator=CURATOR)


# -- entities --------------------------------------------------------------------------------
def test_find_an_entity_its_atoms_and_its_neighbourhood(graph):
    found = run(graph, "11-find-entity")
    assert "customer:宁德时代" in [r["编号"] for r in found]
    exact = run(graph, "11-find-entity", name="宁德时代")[0]
    assert exact["编号"] == "customer:宁德时代" and {"CATL", "宁德"} <= set(exact["别名"])
    assert exact["提到它的原子数"] >= 8 and exact["相关实体"]
    atoms = run(graph, "12-atoms-of-entity")
    assert len(atoms) == exact["提到它的原子数"]
    paths = run(graph, "13-entity-neighbourhood")
    assert len(paths) >= 10
    assert all(p["p"][0]["id"] == "customer:宁德时代" for p in paths)
    # customer -> industry -> another customer <- that customer's case
    assert any(len(p["p"]) == 7 and p["p"][-1]["type"] == "case" for p in paths)


def test_merge_two_duplicate_entities_combines_aliases_and_moves_mentions(graph):
    mentioner = atoms_of(graph, "cases/hengyuan-cell-xray-inspection.md")[0]
    cypher(
        graph,
        """
        CREATE (d:Entity:Customer {id: 'customer:宁德新能源', name: '宁德新能源',
                                   kind: 'Customer', aliases: ['ATL', 'CATL'],
                                   description: '消费电池'})
        WITH d MATCH (a:Atom {id: $atom}) CREATE (a)-[:MENTIONS]->(d)
        WITH d MATCH (r:Region) WITH d, r LIMIT 1 CREATE (d)-[:LOCATED_IN]->(r)
        WITH d MATCH (k:Entity {id: 'customer:宁德时代'}) CREATE (d)-[:RELATED {name: '同系'}]->(k)
        CREATE (:EntityCandidate {name: 'ATL', count: 3, examples: []})
        """,
        atom=mentioner,
    )
    keep = "customer:宁德时代"
    before = cypher(
        graph,
        "MATCH (k:Entity {id: $id}) RETURN k.name AS name, k.aliases AS aliases, "
        "COUNT { (k)<-[:MENTIONS]-() } AS mentions",
        id=keep,
    )[0]
    [row] = run(graph, "14-merge-entities", curator=CURATOR)  # the header's example ids
    assert row["编号"] == keep and row["名称"] == "宁德时代"
    assert row["别名"] == [*before["aliases"], "宁德新能源", "ATL"]
    facts = cypher(
        graph,
        """
        MATCH (k:Entity {id: $id})
        RETURN labels(k) AS labels, k.description AS description, k.updated_by AS by,
               COUNT { (:Atom {id: $atom})-[:MENTIONS]->(k) } AS moved,
               COUNT { (k)<-[:MENTIONS]-() } AS mentions,
               COUNT { (k)-[:LOCATED_IN]->(:Region) } AS regions,
               COUNT { (k)-[]-(k) } AS loops,
               COUNT { (:Entity {id: 'customer:宁德新能源'}) } AS dropped,
               COUNT { (:EntityCandidate {name: 'ATL'}) } AS candidates
        """,
        id=keep,
        atom=mentioner,
    )[0]
    assert sorted(facts.pop("labels")) == ["Customer", "Entity"]
    assert facts["moved"] == 1 and facts["mentions"] >= before["mentions"]
    assert facts["regions"] >= 1 and facts["by"] == CURATOR
    assert facts["description"] == "消费电池"  # keep had none
    assert (facts["loops"], facts["dropped"], facts["candidates"]) == (0, 0, 0)

    # A duplicate of another kind leaves only the kept entity's kind label behind.
    cypher(graph, "CREATE (:Entity:Term {id: 'term:宁德电池', name: '宁德电池', kind: 'Term'})")
    run(graph, "14-merge-entities", drop_id="term:宁德电池", curator=CURATOR)
    labels = cypher(graph, "MATCH (k:Entity {id: $id}) RETURN labels(k) AS l", id=keep)[0]["l"]
    assert sorted(labels) == ["Customer", "Entity"]


def test_add_alias_once_and_report_a_name_another_entity_carries(graph):
    cypher(graph, "CREATE (:EntityCandidate {name: 'Contemporary Amperex', count: 2})")
    for _ in range(2):
        [row] = run(graph, "15-add-alias", alias="Contemporary Amperex", curator=CURATOR)
    assert row["别名"].count("Contemporary Amperex") == 1 and row["同名的其他实体"] == []
    assert cypher(graph, "MATCH (c:EntityCandidate {name: 'Contemporary Amperex'}) RETURN c") == []

    cypher(
        graph,
        "CREATE (:Entity:Customer {id: 'customer:别名测试', name: '别名测试', kind: 'Customer'})",
    )
    [row] = run(
        graph, "15-add-alias", entity_id="customer:别名测试", alias="热失控", curator=CURATOR
    )
    assert row["别名"] == ["热失控"] and "term:热失控" in row["同名的其他实体"]
    cypher(graph, "MATCH (e:Entity {id: 'customer:别名测试'}) DETACH DELETE e")


def test_orphan_atom_listed_until_linked_by_hand(graph):
    target = atoms_of(graph, "cases/dingsheng-renewal-rescue.md")[0]
    cypher(graph, "MATCH (:Atom {id: $id})-[m:MENTIONS]->() DELETE m", id=target)
    assert target in {r["编号"] for r in run(graph, "19-orphan-atoms")}
    [row] = run(graph, "16-link-entity", id=target, entity_id="term:热失控", curator=CURATOR)
    assert row["该原子提到的全部实体"] == ["热失控"]
    link = cypher(
        graph,
        "MATCH (:Atom {id: $id})-[m:MENTIONS]->(:Entity {id: 'term:热失控'}) "
        "RETURN properties(m) AS m",
        id=target,
    )
    assert link[0]["m"]["by"] == CURATOR and link[0]["m"]["at"] is not None
    assert target not in {r["编号"] for r in run(graph, "19-orphan-atoms")}
    with pytest.raises(ClientError, match="No entity with id term:nothing"):
        run(graph, "16-link-entity", id=target, entity_id="term:nothing", curator=CURATOR)


def test_orphan_entities(graph):
    cypher(graph, "CREATE (:Entity:Thing {id: 'thing:孤立测试', name: '孤立测试', kind: 'Thing'})")
    rows = run(graph, "20-orphan-entities")
    assert "thing:孤立测试" in {r["编号"] for r in rows}
    assert "customer:宁德时代" not in {r["编号"] for r in rows}


def test_candidate_becomes_a_term(graph):
    candidates = run(graph, "17-entity-candidates")
    counts = [r["出现次数"] for r in candidates]
    assert candidates and counts == sorted(counts, reverse=True)
    name = candidates[0]["候选词"]
    [row] = run(graph, "18-candidate-to-entity", name=name, curator=CURATOR)
    assert row["编号"] == f"term:{name}"
    term = cypher(
        graph,
        "MATCH (t:Entity {id: $id}) RETURN labels(t) AS labels, properties(t) AS t",
        id=f"term:{name}",
    )[0]
    assert sorted(term["labels"]) == ["Entity", "Term"]
    assert term["t"]["kind"] == "Term" and term["t"]["name"] == name
    assert term["t"]["aliases"] == [] and term["t"]["description"]
    assert name not in {r["候选词"] for r in run(graph, "17-entity-candidates")}
    with pytest.raises(ClientError, match="Another entity is already called 宁德"):
        run(graph, "18-candidate-to-entity", name="宁德", curator=CURATOR)


# -- stale and disputed atoms ----------------------------------------------------------------
def test_stale_atoms_are_listed_flagged_and_cleared_by_approval(graph):
    never, recent, long_ago, retired, changed = atoms_of(graph, "cases/geely-welding-line.md")[:5]
    cypher(
        graph,
        """
        MATCH (a:Atom) WHERE a.id IN [$never, $recent, $long_ago, $retired, $changed]
        SET a.created_at = datetime() - duration({days: 300})
        WITH a
        SET a.verified_at = CASE a.id WHEN $recent THEN datetime() - duration({days: 10})
                                      WHEN $long_ago THEN datetime() - duration({days: 400})
                            END,
            a.status = CASE a.id WHEN $retired THEN 'deprecated' ELSE a.status END,
            a.review = CASE a.id WHEN $changed THEN 'source_changed' END
        """,
        never=never,
        recent=recent,
        long_ago=long_ago,
        retired=retired,
        changed=changed,
    )
    listed = {r["编号"]: r for r in run(graph, "21-stale-atoms")}
    assert {never, long_ago, changed} <= set(listed)
    assert recent not in listed and retired not in listed
    assert listed[long_ago]["未核实天数"] == 400
    [row] = run(graph, "22-flag-stale")
    assert row["新标记数"] >= 2
    assert atom(graph, never)["review"] == "stale" and atom(graph, long_ago)["review"] == "stale"
    assert "180" in atom(graph, never)["review_note"]
    assert atom(graph, changed)["review"] == "source_changed"
    assert "review" not in atom(graph, recent)
    run(graph, "04-approve", id=never, curator=CURATOR)
    assert "review" not in atom(graph, never)
    assert never not in {r["编号"] for r in run(graph, "21-stale-atoms")}


def _feedback(store, atom_id: str, kinds: list[str], days_ago: int = 1) -> None:
    cypher(
        store,
        """
        MATCH (a:Atom {id: $id})
        UNWIND range(0, size($kinds) - 1) AS i
        CREATE (:Feedback {id: $id + '-fb-' + toString(i), kind: $kinds[i],
                           comment: '评论' + toString(i), user: 'rep',
                           created_at: datetime() - duration({days: $days_ago, minutes: i})})
               -[:ABOUT]->(a)
        """,
        id=atom_id,
        kinds=kinds,
        days_ago=days_ago,
    )


def test_disputed_atoms_are_listed_with_counts_flagged_and_cleared_by_approval(graph):
    poor, mixed, verified = atoms_of(graph, "cases/haifan-erp-winback.md")[:3]
    _feedback(graph, poor, ["not_helpful", "not_helpful", "deal_lost", "helpful", "used_in_deal"])
    _feedback(graph, mixed, ["not_helpful", "not_helpful", "helpful", "deal_won"])
    _feedback(graph, verified, ["not_helpful", "deal_lost", "not_helpful"], days_ago=5)
    cypher(
        graph,
        "MATCH (a:Atom {id: $id}) SET a.verified_at = datetime() - duration({days: 2})",
        id=verified,
    )
    listed = {r["编号"]: r for r in run(graph, "23-disputed-atoms")}
    assert poor in listed and mixed not in listed and verified not in listed
    counts = {k: listed[poor][k] for k in ("没用", "丢单", "有用", "赢单", "用于商机")}
    assert counts == {"没用": 2, "丢单": 1, "有用": 1, "赢单": 0, "用于商机": 1}
    assert listed[poor]["最近评论"] == ["评论0", "评论1", "评论2"]
    assert poor not in {r["编号"] for r in run(graph, "23-disputed-atoms", min_bad=4)}

    [row] = run(graph, "24-flag-disputed")
    assert row["标记数"] >= 1
    flagged = atom(graph, poor)
    assert flagged["review"] == "disputed" and "负面反馈 3 次" in flagged["review_note"]
    assert "review" not in atom(graph, mixed)
    assert poor in {r["编号"] for r in run(graph, "02-needs-review")}
    run(graph, "04-approve", id=poor, curator=CURATOR)
    assert "review" not in atom(graph, poor)
    assert poor not in {r["编号"] for r in run(graph, "23-disputed-atoms")}


def test_knowledge_gaps_are_recent_questions_that_cited_nothing(graph):
    cited = atoms_of(graph, "cases/kairui-install-environment-service.md")[0]
    cypher(
        graph,
        """
        CREATE (:Answer {id: 'gap-1', question: '储能柜怎么报价？', team: '华东',
                         channel: 'voice', created_at: datetime()})
        CREATE (:Answer {id: 'gap-2', question: ' 储能柜怎么报价？', team: '华南',
                         channel: 'api', created_at: datetime() - duration({days: 3})})
        CREATE (:Answer {id: 'gap-old', question: '很久以前的问题',
                         created_at: datetime() - duration({days: 90})})
        CREATE (ans:Answer {id: 'answered', question: '有答案的问题', created_at: datetime()})
        WITH ans MATCH (a:Atom {id: $atom}) CREATE (ans)-[:CITES {rank: 1}]->(a)
        """,
        atom=cited,
    )
    rows = {r["问题"]: r for r in run(graph, "25-knowledge-gaps")}
    assert rows["储能柜怎么报价？"]["次数"] == 2
    assert set(rows["储能柜怎么报价？"]["团队"]) == {"华东", "华南"}
    assert "很久以前的问题" not in rows and "有答案的问题" not in rows
    assert "很久以前的问题" in {r["问题"] for r in run(graph, "25-knowledge-gaps", days=120)}


# -- history ------------------------------------------------------------------------------
def test_history_and_restoring_an_earlier_version(graph):
    target = atoms_of(graph, "cases/huaxin-krf-implant-photoresist.md")[0]
    original = atom(graph, target)
    run(graph, "06-edit-atom", id=target, text="改错了的正文", curator=CURATOR)
    run(graph, "04-approve", id=target, curator="审核人")
    history = run(graph, "26-atom-history", id=target)
    assert [r["操作"] for r in history] == ["（当前 current）", "approve", "edit"]
    assert history[0]["正文"] == "改错了的正文" and history[-1]["正文"] == original["text"]
    assert history[-1]["版本"] == original["version"] and history[1]["操作人"] == "审核人"

    [row] = run(
        graph, "27-restore-version", id=target, version=original["version"], curator=CURATOR
    )
    assert row["恢复自版本"] == original["version"]
    restored = atom(graph, target)
    assert restored["text"] == original["text"] and restored["status"] == "draft"
    assert restored["version"] == original["version"] + 3
    assert "embedding" not in restored and restored["curated_by"] == CURATOR
    reasons = [r["操作"] for r in run(graph, "26-atom-history", id=target)]
    assert reasons == ["（当前 current）", "restore", "approve", "edit"]
    with pytest.raises(ClientError, match="has no version 99"):
        run(graph, "27-restore-version", id=target, version=99, curator=CURATOR)


def test_delete_keeps_a_detached_snapshot_in_the_history(graph):
    target = atoms_of(graph, "cases/jingchuan-eu-grid-certification.pdf")[0]
    text = atom(graph, target)["text"]
    run(graph, "04-approve", id=target, curator=CURATOR)
    [row] = run(graph, "28-delete-atom", id=target, curator=CURATOR)
    assert row["已删除编号"] == target
    assert atom(graph, target) is None
    snaps = snapshots(graph, target)
    assert [s["v"]["reason"] for s in snaps] == ["approve", "delete"]
    assert not any(s["attached"] for s in snaps)
    assert snaps[-1]["v"]["status"] == "approved" and snaps[-1]["v"]["text"] == text
    history = run(graph, "26-atom-history", id=target)
    assert [r["操作"] for r in history] == ["delete", "approve"]
    with pytest.raises(ClientError, match="deleted atoms cannot be restored"):
        run(graph, "27-restore-version", id=target, version=1, curator=CURATOR)


def test_ingest_does_not_bring_back_merged_or_deleted_atoms(graph):
    retired = {
        r["id"]
        for r in cypher(
            graph,
            "MATCH (v:AtomVersion) WHERE v.reason IN ['merge', 'delete'] "
            "AND NOT EXISTS { MATCH (:Atom {id: v.atom_id}) } RETURN DISTINCT v.atom_id AS id",
        )
    }
    assert retired, "the merge and delete tests above retire atoms"
    # A new alias changes the linker's dictionary: every document is planned again.
    run(graph, "15-add-alias", entity_id="customer:宁德时代", alias="宁德集团", curator=CURATOR)
    ingest_paths([SAMPLES], graph)
    back = cypher(graph, "MATCH (a:Atom) WHERE a.id IN $ids RETURN a.id AS id", ids=list(retired))
    assert back == []


# -- in Neo4j Browser itself ------------------------------------------------------------------
@pytest.mark.slow
def test_the_zipped_folder_imports_as_browser_favourites_that_run(
    graph, settings, chromium, tmp_path
):
    """What docs/curation.md tells curators: zip the folder, drop it on Browser, set the
    header's parameters, run a favourite."""
    archive = tmp_path / "saleskg-curation.zip"
    subprocess.run(
        [sys.executable, "-m", "zipfile", "-c", str(archive), "curation/"], cwd=ROOT, check=True
    )
    names = [GuideQuery.load(name).header[0].removeprefix("//").strip() for name in guide_names()]
    finder = GuideQuery.load("03-find-atoms")
    OUTPUT.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(chromium), args=["--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        try:
            page.goto(
                f"http://127.0.0.1:{settings.neo4j_http_port}/browser/"
                f"?dbms=neo4j://neo4j@127.0.0.1:{settings.neo4j_bolt_port}"
            )
            page.locator("input[type=password]").fill(settings.password())
            page.locator("button[data-testid=connect]").click()
            expect(page.get_by_text("You are connected as user")).to_be_visible(timeout=30_000)

            # A drop of the zip anywhere on the page: Browser's FileDrop reads every .cypher.
            page.evaluate(
                """(data) => {
                  const bytes = Uint8Array.from(atob(data), c => c.charCodeAt(0));
                  const transfer = new DataTransfer();
                  transfer.items.add(new File([bytes], 'saleskg-curation.zip'));
                  const target = document.querySelector('.filedrop');
                  for (const type of ['dragenter', 'dragover', 'drop']) {
                    target.dispatchEvent(new DragEvent(type, {
                      bubbles: true, cancelable: true, dataTransfer: transfer}));
                  }
                }""",
                base64.b64encode(archive.read_bytes()).decode(),
            )
            page.locator("[data-testid=navigationFavorites]").click()
            page.get_by_text("curation", exact=True).click()
            for name in names:
                expect(page.get_by_text(name, exact=True)).to_be_visible()

            editor = page.locator(".monaco-editor").first

            def set_params_and_run() -> None:
                for key, value in finder.params.items():
                    editor.click()
                    page.keyboard.type(f":param {key} => {value}")
                    page.keyboard.press("Escape")  # close the editor's suggestions first
                    page.keyboard.press("Control+Enter")
                    page.wait_for_timeout(1_000)  # Browser runs the :param before the next
                page.get_by_text(finder.header[0].removeprefix("//").strip(), exact=True).click()
                editor.click()
                page.keyboard.press("Control+Enter")

            set_params_and_run()
            started = page.get_by_text("Started streaming").first
            try:
                expect(started).to_be_visible(timeout=30_000)
            except AssertionError:  # a slow machine: the query ran before its :param frames
                set_params_and_run()
                expect(started).to_be_visible(timeout=30_000)
            expect(page.get_by_text("编号", exact=True).first).to_be_visible()

            # Before importing a newer zip, curators delete the folder with its queries.
            page.get_by_text("curation", exact=True).hover()
            page.locator("[data-testid=navicon-curation]").click()
            page.get_by_text("Delete folder", exact=True).click()
            expect(page.get_by_text(names[0], exact=True)).to_have_count(0)
        finally:
            page.screenshot(path=str(OUTPUT / "curation-favourites.png"))
            browser.close()


# -- coverage: keep last ----------------------------------------------------------------------
def test_every_guide_query_is_exercised(request):
    names = set(guide_names())
    assert len(names) >= 20
    referenced = set(RUN_CALL.findall(Path(__file__).read_text(encoding="utf-8")))
    assert names - referenced == set(), "guide queries no test runs"
    assert referenced - names == set(), "tests run queries that are not in curation/"
    # When the whole module runs (not a -k selection), every query has really been run.
    selected = {i.originalname for i in request.session.items if i.module is request.module}
    defined = {name for name in vars(request.module) if name.startswith("test_")}
    if selected == defined:
        assert names == _ran, f"not run in this session: {sorted(names - _ran)}"
