"""The learned fusion, the answer's confidence and query understanding: pure logic on small
fixed inputs (the shipped models are checked to load and to rank sensibly)."""

from __future__ import annotations

import numpy as np
import pytest

from kg.dictionary import EntityDictionary
from kg.models import DictionaryEntry
from retrieval.answers.answer import DECLINED, ENGLISH_NOTE, decline
from retrieval.query import QueryAnalyzer
from retrieval.retrievers.base import Hit
from retrieval.retrievers.confidence import (
    SIGNALS,
    UNCOVERED_DEPTH,
    ConfidenceModel,
    question_signals,
    uncovered,
)
from retrieval.retrievers.ranker import (
    FEATURES,
    UNSEEN_IDF,
    Candidates,
    FusionModel,
    QuerySignals,
    candidate_features,
    load_confidence,
)

pytestmark = pytest.mark.unit

ENTITIES = [
    DictionaryEntry("customer:宁德时代", "宁德时代", ["CATL", "宁德"], "Customer"),
    DictionaryEntry("customer:粤能新能源", "粤能新能源", ["粤能"], "Customer"),
    DictionaryEntry("term:热失控", "热失控", ["Thermal Runaway"], "Term"),
]
NAMES = {e.id: e.name for e in ENTITIES}


def hits(name: str, ranked: list[tuple[str, float]]) -> list[Hit]:
    return [Hit(atom_id, score, name) for atom_id, score in ranked]


def features(text: str, atom_texts: dict[str, str]):
    return candidate_features(
        text,
        ["热失控", "方案"],
        {
            "dense": hits("dense", [("a", 0.90), ("b", 0.85)]),
            "lexical": hits("lexical", [("b", 12.0), ("c", 3.0)]),
            "graph": hits("graph", [("c", 1.0)]),
        },
        lambda atom_id: {"a": ["热失控"], "b": ["热失控", "方案"], "c": []}[atom_id],
        lambda term: 2.0,
        lambda atom_id: atom_texts.get(atom_id, ""),
    )


def test_every_candidate_gets_every_feature():
    found = features("热失控防护方案", {"a": "", "b": "", "c": ""})
    assert found.ids == ["a", "b", "c"]
    assert found.features.shape == (3, len(FEATURES))
    column = {name: i for i, name in enumerate(FEATURES)}
    assert found.features[1, column["coverage"]] == pytest.approx(1.0)
    assert found.features[0, column["coverage"]] == pytest.approx(0.5)
    assert found.signals.lexical_confidence == pytest.approx(1.0)
    assert found.features[2, column["graph_hit"]] == 1.0


def test_a_phrase_typed_from_an_atom_is_found_verbatim():
    found = features("实际从送样、小批量验证", {"a": "预测，实际从送样、小批量验证走了", "b": ""})
    column = FEATURES.index("phrase")
    assert found.features[0, column] == 1.0 and found.features[1, column] == 0.0


def test_the_shipped_models_load_and_prefer_the_atom_that_matches_everything():
    model = FusionModel.load()
    assert model.trained_on and len(model.weights) == len(FEATURES)
    found = features("热失控方案", {"a": "", "b": "热失控方案", "c": ""})
    assert found.ids[int(np.argmax(model.scores(found.features)))] == "b"
    confidence = load_confidence()
    assert confidence is not None and 0 < confidence.threshold < 1


def test_model_files_of_other_features_are_refused():
    with pytest.raises(ValueError):
        FusionModel.from_json({"features": ["x"], "weights": [1.0]})
    with pytest.raises(ValueError):
        ConfidenceModel.from_json({"signals": ["x"]})


def test_confidence_signals_name_unknown_companies_and_factoid_asks():
    found = features("远景能源的储能PCS报价是多少？", {"a": "", "b": "", "c": ""})
    scores = np.array([1.0, 0.5, 0.2])

    def signals(text: str, recognised: list[str]) -> dict[str, float]:
        values = question_signals(found, scores, text, recognised)
        return dict(zip(SIGNALS, values, strict=True))

    asked = signals("远景能源的储能PCS报价是多少？", [])
    assert asked["unknown_names"] == 1.0 and asked["asks_fact"] == 1.0
    known = signals("粤能新能源怎么讲", ["粤能新能源"])
    assert known["unknown_names"] == 0.0 and known["asks_fact"] == 0.0


def test_confidence_counts_the_questions_own_words_its_best_atoms_lack():
    atoms = {"a": {"粤能", "储能", "方案"}, "b": {"储能", "报价"}, "c": {"注册资本"}, "d": set()}
    idf = {"注册资本": 4.0, "储能": 1.0, "方案": 1.0}.get
    # The entity's name is not one of its own words; 资本金 is unseen (UNSEEN_IDF).
    share, missing = uncovered(
        ["粤能", "注册资本", "储能", "资本金"], ["粤能新能源"], [atoms["a"], atoms["b"]], idf
    )
    assert missing == 2.0 and share == pytest.approx((4.0 + UNSEEN_IDF) / (5.0 + UNSEEN_IDF))
    assert uncovered(["储能"], [], [atoms["a"]], idf) == (0.0, 0.0)
    assert uncovered(["粤能"], ["粤能"], [], idf) == (0.0, 0.0)  # nothing of its own
    # In the signals, the atoms are the UNCOVERED_DEPTH best by score: c (注册资本) is not
    # among them when it scores last.
    found = Candidates(
        ["a", "b", "d", "c"],
        np.zeros((4, len(FEATURES)), dtype=np.float32),
        QuerySignals(0.0, 1.0, 0.5),
    )
    values = dict(
        zip(
            SIGNALS,
            question_signals(
                found,
                np.array([0.9, 0.8, 0.7, 0.1]),
                "粤能的注册资本是多少",
                ["粤能"],
                terms=["粤能", "注册资本"],
                names=["粤能", "粤能新能源"],
                atom_tokens=lambda atom_id: atoms[atom_id],
                idf=idf,
            ),
            strict=True,
        )
    )
    assert UNCOVERED_DEPTH == 3 and values["uncovered_terms"] == 1.0
    assert values["uncovered_share"] == 1.0


def test_aliases_english_names_and_pinyin_expand_the_question():
    analyzer = QueryAnalyzer(EntityDictionary(ENTITIES), NAMES)
    query = analyzer.analyze("How much did Yueneng save with CATL's thermal runaway design?")
    assert {e.id for e in query.entities} == {
        "customer:粤能新能源",
        "customer:宁德时代",
        "term:热失控",
    }
    assert set(query.expansion) == {"粤能新能源", "宁德时代", "热失控"}
    assert "宁德时代" in query.dense_text and "宁德时代" in query.search_tokens
    assert analyzer.analyze("宁德时代的热失控").expansion == []  # already in its own words


def test_short_pinyin_names_apostrophes_and_capital_acronyms():
    entries = [
        *ENTITIES,
        DictionaryEntry("customer:微纳光刻材料", "微纳光刻材料", [], "Customer"),
        DictionaryEntry("competitor:博安新材", "博安新材", [], "Competitor"),
        # Two companies sharing their first two characters: neither is named by them.
        DictionaryEntry("customer:华芯半导体", "华芯半导体", [], "Customer"),
        DictionaryEntry("competitor:华芯微电子", "华芯微电子", [], "Competitor"),
        DictionaryEntry("term:流片", "流片", ["Tape-out", "TO"], "Term"),
    ]
    analyzer = QueryAnalyzer(EntityDictionary(entries), {e.id: e.name for e in entries})

    def named(text: str) -> set[str]:
        return {e.id for e in analyzer.analyze(text).entities}

    assert named("Why did Bo'an get Weina's PAG qualified first?") == {
        "competitor:博安新材",
        "customer:微纳光刻材料",
    }
    assert named("Did Huaxin buy from us?") == set()  # 华芯 is two companies
    assert named("What should I say to the engineer?") == set()  # the word, not TO
    assert named("TO之前要做哪些签核？") == {"term:流片"}
    assert named("Yueneng") == {"customer:粤能新能源"}  # an alias, as before


def test_typed_sound_alikes_name_what_they_sound_like():
    entries = [
        *ENTITIES,
        DictionaryEntry("customer:吉利汽车", "吉利汽车", ["吉利"], "Customer"),
        DictionaryEntry("term:调试", "虚拟调试", [], "Term"),
        DictionaryEntry("term:电池舱", "电池舱", [], "Term"),
    ]
    analyzer = QueryAnalyzer(EntityDictionary(entries), {e.id: e.name for e in entries})

    def named(text: str) -> dict[str, str]:
        return {e.id: e.surface for e in analyzer.analyze(text).entities}

    # Wrong characters of the same sound, exactly (急利) or by a known confusion (失空, 宁的).
    assert named("宁的时代那个热失空防护方案贵了多少？") == {
        "customer:宁德时代": "宁的时代",
        "term:热失控": "热失空",
    }
    assert named("急利那条焊装线怎么样") == {"customer:吉利汽车": "急利"}
    assert named("数字孪生跟虚拟调适是一回事吗") == {"term:调试": "虚拟调适"}  # 调: tiao
    query = analyzer.analyze("宁的时代那个方案")
    assert query.expansion == ["宁德时代"] and "宁德时代" in query.dense_text
    # Not: a real word (电池厂 is not 电池舱), a window across words (说能|提前 is not 粤能),
    # a rare reading (年 is nian, not ning: 年的 is not 宁德), a two-character near miss.
    assert named("跟电池厂聊安全方案") == {}
    assert named("说能提前半小时") == {}
    assert named("2024年的营业收入") == {}
    assert named("凌德的方案") == {}  # ling~ning is a confusion: two characters need exact


def test_a_declined_answer_says_so_and_keeps_leads_apart():
    analyzer = QueryAnalyzer(EntityDictionary(ENTITIES), NAMES)
    answer = decline(analyzer.analyze("asdfqwer zxcv"), [], 0.12)
    assert not answer.answered and answer.sections == [] and answer.citations == []
    assert DECLINED in answer.to_text()
    english = decline(analyzer.analyze("What is the weather in Tokyo today?"), [], 0.1)
    assert english.note == ENGLISH_NOTE


CEDICT_LINES = [
    "# CC-CEDICT\n",
    "保險 保险 [bao3 xian3] /insurance/to be insured/\n",
    "到岸價 到岸价 [dao4 an4 jia4] /CIF (cost, insurance and freight)/\n",
    "短路 短路 [duan3 lu4] /short circuit/\n",
    "短 短 [duan3] /short/brief/\n",
    "路 路 [lu4] /road/CL:條|条[tiao2]/\n",
    "優惠券 优惠券 [you1 hui4 quan4] /coupon/\n",
    "節省 节省 [jie2 sheng3] /to save/to conserve/\n",
    "保存 保存 [bao3 cun2] /to conserve/to preserve/to save (a file)/\n",
    "the 的 [de5] /the (not a translation)/\n",
]


def glossary_idf(known: set[str]):
    return lambda term: 1.0 if term in known else None


def test_english_words_become_the_chinese_terms_the_knowledge_uses():
    from retrieval.crosslingual import Glossary

    glossary = Glossary.from_cedict(iter(CEDICT_LINES))
    known = glossary_idf({"保险", "短路", "优惠", "优惠券", "节省", "保存", "短", "路"})
    # Longest phrase first (short circuit -> 短路, not 短 and 路); plurals tried bare;
    # function words skipped; a sense's first translation wins (save -> 节省, its first sense).
    assert glossary.translate("The insurance, a short circuit and coupons to save", known) == [
        "保险",
        "短路",
        "优惠券",
        "节省",
    ]
    # Only what the knowledge uses: without 节省 in any atom, save is 保存 (a later sense).
    assert "保存" in glossary.translate("save", glossary_idf({"保存"}))
    assert glossary.translate("insurance", glossary_idf(set())) == []


def test_translations_join_the_lexical_terms_not_the_dense_text():
    from retrieval.crosslingual import Glossary

    analyzer = QueryAnalyzer(
        EntityDictionary(ENTITIES),
        NAMES,
        glossary=Glossary.from_cedict(iter(CEDICT_LINES)),
        idf=glossary_idf({"保险"}),
    )
    query = analyzer.analyze("How much did Yueneng save on insurance?")
    assert query.translations == ("保险",)
    assert "保险" in query.search_tokens and "保险" not in query.dense_text
    assert analyzer.analyze("粤能的保险怎么算").translations == ()  # no English words
    # Another index generation: translations follow its vocabulary.
    assert analyzer.with_vocabulary(glossary_idf(set())).analyze("insurance").translations == ()


def test_pseudo_relevance_feedback_pulls_up_atoms_like_the_first_stages_best():
    from retrieval.retrievers.ranker import PRF_DEPTH, PRF_FEATURES, prf_features

    query = np.array([1.0, 0.0, 0.0], dtype=np.float32)
    best = np.array([0.6, 0.8, 0.0], dtype=np.float32)
    vectors = np.stack(
        [best] * PRF_DEPTH
        + [
            np.array([0.7, 0.7, 0.1], dtype=np.float32),  # like the best atoms
            np.array([0.9, 0.0, 0.43], dtype=np.float32),  # like the question alone
            np.zeros(3, dtype=np.float32),  # no vector
        ]
    )
    first = np.array([3.0] * PRF_DEPTH + [0.1, 0.2, 0.0])
    found = prf_features(first, query, vectors)
    assert found.shape == (len(first), len(PRF_FEATURES))
    cosine, gap, rr = found[:, 0], found[:, 1], found[:, 2]
    assert cosine[PRF_DEPTH] > cosine[PRF_DEPTH + 1]  # feedback moved the question's vector
    assert cosine[-1] == pytest.approx(cosine[:-1].min())  # no vector: the lowest, not 0
    assert gap.max() == 0.0 and rr.max() == 1.0
    assert prf_features(np.zeros(0), query, np.zeros((0, 3))).shape == (0, len(PRF_FEATURES))


def test_a_two_stage_model_round_trips_and_refuses_a_wrong_second_stage():
    from retrieval.retrievers.ranker import PRF_FEATURES

    model = FusionModel(
        weights=np.ones(len(FEATURES), dtype=np.float32),
        prf=np.arange(len(FEATURES) + len(PRF_FEATURES), dtype=np.float32),
    )
    again = FusionModel.from_json(model.to_json())
    assert again.prf is not None and np.allclose(again.prf, model.prf)
    extended = np.ones((2, len(FEATURES) + len(PRF_FEATURES)), dtype=np.float32)
    assert np.allclose(again.rescored(extended), extended @ model.prf)
    broken = {**model.to_json(), "prf": {"features": list(FEATURES), "weights": [1.0]}}
    with pytest.raises(ValueError):
        FusionModel.from_json(broken)
    with pytest.raises(ValueError):
        FusionModel(weights=model.weights).rescored(extended)
