"""The change feed and the index it keeps (issue 15), on the real Neo4j and the real encoder.

Edits of every kind that matters to search, made as ingest, the API and curators make them,
are applied by change-feed updates only; the index they leave ranks the golden questions
exactly as a full rebuild from the same graph does.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import replace

import pytest

from ingest.pipeline import ingest_paths
from retrieval.index.bundle import IndexBundle
from retrieval.index.change_feed import LAG_S
from retrieval.index.sync import sync_index
from retrieval.index.update import update_index
from retrieval.served import served_retriever
from tests.conftest import ROOT, SAMPLES, wipe_graph

pytestmark = pytest.mark.integration

GOLDEN = ROOT / "data" / "golden" / "queries.jsonl"


def cypher(store, query, **params):
    records, _, _ = store._driver.execute_query(query, parameters_=params)
    return [r.data() for r in records]


@pytest.fixture(scope="module")
def synced(store, embedder, settings, tmp_path_factory):
    wipe_graph(settings)
    assert ingest_paths([SAMPLES], store).failures == []
    directory = tmp_path_factory.mktemp("feed") / "index"
    sync_index(store, embedder, directory)
    bundle = IndexBundle.load(directory)
    assert bundle.feed is not None
    return bundle


def public_atom(store, skip: int = 0) -> str:
    return cypher(
        store,
        "MATCH (a:Atom) WHERE a.status <> 'deprecated' AND a.visibility = 'public' "
        "RETURN a.id AS id ORDER BY a.id SKIP $skip LIMIT 1",
        skip=skip,
    )[0]["id"]


def update(store, embedder, bundle, **kw):
    result = update_index(store, embedder, bundle, **kw)
    assert result is not None, "a bundle with a feed state is updated, not rebuilt"
    return result


def _settled(token):
    """The token without its count of recent stamps, which falls as stamps age out of the lag
    window even when nothing changes."""
    return replace(token, recent=0)


def test_the_change_token_moves_with_a_stamped_edit_only(store, synced):
    before = store.change_token(LAG_S)
    assert _settled(store.change_token(LAG_S)) == _settled(before), "nothing changed"
    atom_id = public_atom(store, 3)
    cypher(store, "MATCH (a:Atom {id: $id}) SET a.review = 'stale'", id=atom_id)
    assert _settled(store.change_token(LAG_S)) == _settled(before), "not read by search"
    cypher(
        store,
        "MATCH (a:Atom {id: $id}) SET a.title = a.title + '（修订）', a.version = a.version + 1, "
        "a.updated_at = datetime(), a.embedding = null",
        id=atom_id,
    )
    after = store.change_token(LAG_S)
    assert after != before and after.atom_ms >= (before.atom_ms or 0)
    assert after.atoms == before.atoms


def test_the_token_is_read_through_indexes(store):
    """The check must not read every atom: counts from the count store, the newest stamps
    from the index in its order (no scan, no sort)."""
    from kg import queries

    plan = store._driver.execute_query(
        "EXPLAIN " + queries.CHANGE_TOKEN, parameters_={"lag_s": 60}
    ).summary.plan

    def operators(p):
        yield p["operatorType"].split("@")[0]
        for child in p.get("children", []):
            yield from operators(child)

    used = set(operators(plan))
    assert not used & {"NodeByLabelScan", "AllNodesScan", "Sort", "Top", "Expand(All)"}, used
    assert {"NodeCountFromCountStore", "RelationshipCountFromCountStore"} <= used, used


def test_an_index_kept_by_the_feed_ranks_as_a_rebuild(store, embedder, synced, tmp_path):
    bundle = synced
    edited, deprecated, deleted, linked = (public_atom(store, i) for i in (0, 5, 9, 14))
    steps = [
        # a curator's edit (curation/06-edit-atom.cypher's writes)
        (
            "MATCH (a:Atom {id: $id}) SET a.text = a.text + '玄武岩协议约定每季度复测。', "
            "a.version = a.version + 1, a.updated_at = datetime(), a.curated_at = datetime(), "
            "a.updated_by = '李娜', a.embedding = null",
            {"id": edited},
        ),
        (
            "MATCH (a:Atom {id: $id}) SET a.status = 'deprecated', a.updated_at = datetime()",
            {"id": deprecated},
        ),
        ("MATCH (a:Atom {id: $id}) DETACH DELETE a", {"id": deleted}),  # 28-delete-atom
        (  # 16-link-entity
            "MATCH (a:Atom {id: $id}), (e:Entity) WITH a, e ORDER BY e.id LIMIT 1 "
            "MERGE (a)-[m:MENTIONS]->(e) SET m.by = '李娜', a.updated_at = datetime()",
            {"id": linked},
        ),
        (  # 15-add-alias
            "MATCH (e:Entity) WITH e ORDER BY e.id LIMIT 1 "
            "SET e.aliases = coalesce(e.aliases, []) + '紫金盾', e.updated_at = datetime()",
            {},
        ),
    ]
    for query, params in steps:
        cypher(store, query, **params)
        bundle, _ = update(store, embedder, bundle)
    # feedback through the API's writer, and a new document through the ingest writer
    store.record_feedback(
        str(uuid.uuid4()),
        "helpful",
        [public_atom(store, 2)],
        None,
        comment=None,
        deal=None,
        key_id=None,
        team=None,
        user="u1",
    )
    bundle, _ = update(store, embedder, bundle)
    extra = tmp_path / "new"
    extra.mkdir()
    (extra / "玄武岩.md").write_text(
        "# 玄武岩协议\n\n## 复测\n\n玄武岩协议约定电池包每季度复测一次热失控防护，"
        "复测报告由客户的电池安全负责人签字。\n",
        encoding="utf-8",
    )
    assert ingest_paths([extra], store).failures == []
    bundle, report = update(store, embedder, bundle)
    assert report.added >= 1

    assert bundle.dense.delta_size > 0 and bundle.lexical.delta_size > 0, "kept, not rebuilt"
    assert deleted not in bundle.versions and deprecated not in bundle.versions
    rebuilt_dir = tmp_path / "rebuilt"
    sync_index(store, embedder, rebuilt_dir, rebuild=True)
    rebuilt = IndexBundle.load(rebuilt_dir)
    assert bundle.versions == rebuilt.versions
    assert bundle.texts == rebuilt.texts
    assert bundle.graph.atoms == rebuilt.graph.atoms
    assert bundle.graph.mentions == rebuilt.graph.mentions
    assert bundle.graph.aliases == rebuilt.graph.aliases
    assert bundle.graph.priors == rebuilt.graph.priors

    kept_analyzer, kept = served_retriever(bundle, embedder)
    full_analyzer, full = served_retriever(rebuilt, embedder)
    questions = [json.loads(line)["text"] for line in GOLDEN.read_text().splitlines() if line]
    assert len(questions) >= 100
    differ = [
        q
        for q in questions
        if [h.atom_id for h in kept.search(kept_analyzer.analyze(q), 10)]
        != [h.atom_id for h in full.search(full_analyzer.analyze(q), 10)]
    ]
    assert differ == [], f"{len(differ)} golden questions rank differently, e.g. {differ[:3]}"


def test_an_unstamped_hand_edit_waits_for_the_audit(store, embedder, synced):
    bundle, _ = update(store, embedder, synced)
    atom_id = next(iter(sorted(bundle.versions)))
    cypher(store, "MATCH (a:Atom {id: $id}) SET a.status = 'deprecated'", id=atom_id)
    same, _ = update(store, embedder, bundle)
    assert atom_id in same.versions, "the feed cannot see an edit that stamps nothing"
    audited, report = update(store, embedder, same, audit=True)
    assert atom_id not in audited.versions and report.removed >= 1
