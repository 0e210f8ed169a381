import json
import math

import numpy as np
import pytest

from kg.access import Viewer
from kg.dictionary import EntityDictionary
from kg.models import DictionaryEntry
from retrieval.evaluation.beir import cmrc_to_beir, split_sentences, write_trec_run
from retrieval.evaluation.ranking_metrics import evaluate, ndcg_at
from retrieval.query import Intent, Query, QueryAnalyzer, detect_intent
from retrieval.retrievers.base import Hit
from retrieval.retrievers.fusion import mmr, reciprocal_rank, weighted_scores
from retrieval.retrievers.graph import GraphRetriever, GraphSnapshot
from retrieval.retrievers.hybrid import Filters, HybridRetriever

pytestmark = pytest.mark.unit

ENTITIES = [
    DictionaryEntry("customer:宁德时代", "宁德时代", ["CATL", "宁德"], "Customer"),
    DictionaryEntry("customer:比亚迪", "比亚迪", ["BYD"], "Customer"),
    DictionaryEntry("industry:动力电池", "动力电池", [], "Industry"),
    DictionaryEntry("term:热失控", "热失控", [], "Term"),
    DictionaryEntry("term:热蔓延", "热蔓延", [], "Term"),
]


@pytest.fixture
def snapshot():
    return GraphSnapshot.build(
        ENTITIES,
        [
            ("customer:宁德时代", "所属行业", "industry:动力电池"),
            ("customer:比亚迪", "所属行业", "industry:动力电池"),
            ("term:热失控", "相关术语", "term:热蔓延"),
        ],
        [
            ("a-catl", "customer:宁德时代"),
            ("a-byd-case", "customer:比亚迪"),
            ("a-byd-lesson", "customer:比亚迪"),
            ("a-term", "term:热蔓延"),
        ],
        {
            "a-catl": {"type": "solution_point", "status": "approved", "visibility": "team"},
            "a-byd-case": {"type": "case", "status": "approved", "visibility": "public"},
            "a-byd-lesson": {"type": "lesson", "status": "deprecated"},
            "a-term": {"type": "term", "status": "draft", "visibility": "public"},
        },
    )


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("什么是热失控？", Intent.DEFINITION),
        ("CATL那边问热失控怎么防，我该怎么讲？", Intent.HOWTO),
        ("客户嫌贵怎么办", Intent.OBJECTION),
        ("有没有类似的储能案例", Intent.CASE),
        ("光刻胶替代为什么丢单", Intent.LESSON),
        ("宁德时代热失控防护方案", Intent.EXPLAIN),
    ],
)
def test_intent(text, intent):
    assert detect_intent(text) is intent


def test_query_recognises_entities_by_alias():
    query = QueryAnalyzer(EntityDictionary(ENTITIES)).analyze("CATL那边问热失控怎么防")
    assert [(e.id, e.surface) for e in query.entities] == [
        ("customer:宁德时代", "CATL"),
        ("term:热失控", "热失控"),
    ]
    assert "热失控" in query.tokens


def test_graph_walks_hops_with_paths(snapshot):
    query = Query(
        "宁德时代",
        [],
        QueryAnalyzer(EntityDictionary(ENTITIES)).analyze("宁德").entities,
        Intent.EXPLAIN,
    )
    hits = {h.atom_id: h for h in GraphRetriever(snapshot).search(query, 10)}
    assert hits["a-catl"].score == 1.0 and hits["a-catl"].path == ("宁德时代",)
    # Hop 2 through the industry reaches other customers' cases only.
    assert hits["a-byd-case"].path == ("宁德时代", "动力电池", "比亚迪")
    assert hits["a-byd-case"].score == 0.25
    assert "a-byd-lesson" not in hits


def test_term_reaches_related_term(snapshot):
    query = QueryAnalyzer(EntityDictionary(ENTITIES)).analyze("热失控是什么")
    hits = GraphRetriever(snapshot).search(query, 10)
    assert [(h.atom_id, h.path) for h in hits] == [("a-term", ("热失控", "热蔓延"))]


def test_weighted_fusion_scales_each_list_and_rrf_counts_ranks():
    lists = {
        "dense": [Hit("a", 0.90, "dense"), Hit("b", 0.89, "dense"), Hit("c", 0.80, "dense")],
        "lexical": [Hit("c", 12.0, "lexical"), Hit("b", 11.0, "lexical")],
    }
    fused = dict(weighted_scores(lists, {"dense": 1.0, "lexical": 0.5}))
    assert fused["a"] == pytest.approx(1.0)
    assert fused["b"] == pytest.approx(0.9 + 0.0)
    assert fused["c"] == pytest.approx(0.0 + 0.5)
    lists["lexical"] = [Hit("b", 12.0, "lexical"), Hit("c", 11.0, "lexical")]
    rrf = reciprocal_rank(lists, {"dense": 1.0, "lexical": 1.0}, k=60)
    assert rrf[0][0] == "b"  # found by both beats first in one list only
    assert rrf[0][1] == pytest.approx(1 / 62 + 1 / 61)


def test_mmr_prefers_an_unlike_second_atom():
    vectors = {"a": np.array([1.0, 0.0]), "a2": np.array([1.0, 0.0]), "b": np.array([0.0, 1.0])}
    ranked = [("a", 1.0), ("a2", 0.99), ("b", 0.9)]
    assert [i for i, _ in mmr(ranked, vectors.get, 2, diversity=0.0)] == ["a", "a2"]
    assert [i for i, _ in mmr(ranked, vectors.get, 2, diversity=0.3)] == ["a", "b"]


class _Fixed:
    def __init__(self, name, hits):
        self.name, self._hits = name, hits

    def search(self, query, top_k):
        return self._hits[:top_k]


def test_hybrid_filters_by_status_type_and_entity_name(snapshot):
    hits = [
        Hit(a, 1.0 - i / 10, "dense")
        for i, a in enumerate(["a-byd-lesson", "a-term", "a-catl", "a-byd-case"])
    ]
    hybrid = HybridRetriever({"dense": _Fixed("dense", hits)}, snapshot)
    query = Query("q", [], [], Intent.EXPLAIN)
    assert [h.atom_id for h in hybrid.search(query, 10)] == ["a-term", "a-catl", "a-byd-case"]
    only_cases = Filters(types=frozenset({"case"}))
    assert [h.atom_id for h in hybrid.search(query, 10, only_cases)] == ["a-byd-case"]
    about_catl = Filters(entities=frozenset({"CATL"}))
    assert [h.atom_id for h in hybrid.search(query, 10, about_catl)] == ["a-catl"]
    everything = Filters(statuses=None)
    assert len(hybrid.search(query, 10, everything)) == 4
    not_team = Filters(visibilities=frozenset({"public"}))
    assert [h.atom_id for h in hybrid.search(query, 10, not_team)] == ["a-term", "a-byd-case"]


def test_metrics_match_hand_computed_values():
    judged = {"d1": 2, "d2": 1}
    assert ndcg_at(["d1", "d2"], judged) == pytest.approx(1.0)
    dcg = 1 / math.log2(2) + 3 / math.log2(3)
    idcg = 3 / math.log2(2) + 1 / math.log2(3)
    assert ndcg_at(["d2", "d1"], judged) == pytest.approx(dcg / idcg)
    m = evaluate({"q": ["x", "d2", "d1"]}, {"q": judged})
    assert m["R@1"] == 0 and m["R@5"] == 1 and m["MRR"] == pytest.approx(0.5)


def test_sentences_keep_closing_quotes_and_offsets():
    text = "他说：“走吧。”然后离开了！最后一句没有句号"
    sentences = split_sentences(text)
    assert [s for _, s in sentences] == ["他说：“走吧。”", "然后离开了！", "最后一句没有句号"]
    assert all(text[o : o + len(s)] == s for o, s in sentences)


def test_cmrc_conversion_and_trec_run(tmp_path):
    squad = {
        "data": [
            {
                "id": "A",
                "title": "T",
                "paragraphs": [
                    {
                        "id": "P1",
                        "context": "第一句。答案在这里。第三句。",
                        "qas": [
                            {
                                "id": "Q1",
                                "question": "答案在哪？",
                                "answers": [{"text": "答案", "answer_start": 4}],
                            }
                        ],
                    }
                ],
            }
        ]
    }
    path = tmp_path / "cmrc.json"
    path.write_text(json.dumps(squad, ensure_ascii=False))
    sentence = cmrc_to_beir(path, "sentence")
    assert sentence.qrels == {"Q1": {"P1-s1": 1}} and len(sentence.corpus) == 3
    assert cmrc_to_beir(path, "paragraph").qrels == {"Q1": {"P1": 1}}
    write_trec_run(tmp_path / "run.txt", {"Q1": [("P1-s1", 0.9), ("P1-s0", 0.5)]}, "t")
    lines = (tmp_path / "run.txt").read_text().splitlines()
    assert lines == ["Q1 Q0 P1-s1 1 0.900000 t", "Q1 Q0 P1-s0 2 0.500000 t"]


def test_hybrid_pages_and_counts_only_what_the_caller_may_see(snapshot):
    hits = [
        Hit(a, 1.0 - i / 10, "dense")
        for i, a in enumerate(["a-byd-lesson", "a-term", "a-catl", "a-byd-case"])
    ]
    hybrid = HybridRetriever({"dense": _Fixed("dense", hits)}, snapshot)
    query = Query("q", [], [], Intent.EXPLAIN)
    everyone = Filters(allow=Viewer("k", "crm").can_see)
    first, total, _ = hybrid.page(query, 0, 1, everyone)
    second, _, _ = hybrid.page(query, 1, 5, everyone)
    assert total == 2 and [h.atom_id for h in first + second] == ["a-term", "a-byd-case"]
    snapshot.atoms["a-catl"]["team"] = "华东"
    member = Filters(allow=Viewer("k", "crm", team="华东").can_see)
    assert hybrid.page(query, 0, 10, member)[1] == 3
    outsider = Filters(allow=Viewer("k", "crm", team="华南").can_see)
    assert hybrid.page(query, 0, 10, outsider)[1] == 2
