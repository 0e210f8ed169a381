"""The evaluation harness: it ranks with the served retriever, embeds in batches, caches the
corpus vectors by content, and keeps splits apart."""

import json
from collections.abc import Sequence

import numpy as np
import pytest

from api.evaluate import EvalCorpus, merged, named_set, rows
from kg.errors import BadQueryError
from retrieval.embedding.cached import CachedQueryEmbedder
from retrieval.evaluation.beir import (
    BeirData,
    cmrc_split,
    cmrc_to_beir,
    kdconv_to_beir,
    load_beir,
    load_splits,
)
from retrieval.evaluation.benchmark import RRF, SERVED, corpus_bundle, embed_corpus, evaluate_served
from retrieval.retrievers.hybrid import Filters, HybridRetriever
from retrieval.served import served_retriever
from tests.unit.fakes import HashEmbedder

pytestmark = pytest.mark.unit


class CountingEmbedder(HashEmbedder):
    def __init__(self) -> None:
        self.query_calls: list[list[str]] = []
        self.passage_calls: list[list[str]] = []

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        self.query_calls.append(list(texts))
        return super().embed_queries(texts)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        self.passage_calls.append(list(texts))
        return super().embed_passages(texts)


def _data(n_docs: int = 30, n_queries: int = 10) -> BeirData:
    corpus = {
        f"d{i}": {"title": "", "text": "电池" * (i % 7 + 1) + f"第{i}条热失控防护", "type": "term"}
        for i in range(n_docs)
    }
    queries = {f"q{i}": f"第{i}条热失控怎么防" for i in range(n_queries)}
    qrels = {f"q{i}": {f"d{i}": 1} for i in range(n_queries)}
    meta = {q: {"split": "dev" if i % 2 else "test"} for i, q in enumerate(queries)}
    return BeirData(corpus, queries, qrels, meta)


def test_questions_are_embedded_in_batches_before_ranking():
    embedder = CountingEmbedder()
    result = evaluate_served(_data(n_queries=70), embedder)
    # One call per batch of 64, none per question.
    assert [len(c) for c in embedder.query_calls] == [64, 6]
    assert set(result.runs) == {"dense", "lexical", RRF, SERVED}
    assert all(len(result.runs[SERVED][q]) > 0 for q in result.qrels)


def test_served_is_what_the_api_ranks(monkeypatch):
    data = _data()
    expected = evaluate_served(data, HashEmbedder()).runs[SERVED]
    vectors, _ = embed_corpus(HashEmbedder(), [d["text"] for d in data.corpus.values()], None)
    analyzer, retriever = served_retriever(corpus_bundle(data, vectors, "hash"), HashEmbedder())
    for qid, text in data.queries.items():
        query = retriever.scope(analyzer.analyze(text), None)
        hits = retriever.page(query, 0, 100, Filters()).hits
        assert expected[qid] == [(h.atom_id, h.score) for h in hits]

    # Whatever the server's ranking becomes, `served` follows it; the reference RRF does not.
    page = HybridRetriever.page

    def reversed_page(self, *args, **kwargs):
        served = page(self, *args, **kwargs)
        return served._replace(hits=served.hits[::-1])

    monkeypatch.setattr(HybridRetriever, "page", reversed_page)
    changed = evaluate_served(data, HashEmbedder())
    assert all(changed.runs[SERVED][q] == expected[q][::-1] for q in expected)
    assert changed.runs[RRF] == evaluate_served(data, HashEmbedder()).runs[RRF]


def test_corpus_vectors_are_cached_by_content_and_embedded_shortest_first(tmp_path):
    texts = ["长" * n for n in (9, 1, 5, 3, 7)] * 100
    embedder = CountingEmbedder()
    vectors, cached = embed_corpus(embedder, texts, tmp_path)
    assert not cached
    embedded = [t for call in embedder.passage_calls for t in call]
    assert [len(t) for t in embedded] == sorted(len(t) for t in texts)
    assert np.allclose(vectors, HashEmbedder().embed_passages(texts)), "back in corpus order"
    again, cached = embed_corpus(CountingEmbedder(), texts, tmp_path)
    assert cached and np.array_equal(again, vectors)
    other = CountingEmbedder()
    embed_corpus(other, [*texts[:-1], "改了"], tmp_path)
    assert other.passage_calls, "a changed corpus is embedded again"


def test_primed_questions_skip_the_model_and_others_still_work():
    base = CountingEmbedder()
    cached = CachedQueryEmbedder(base)
    assert cached.prime(["甲", "乙乙", "甲"]) == 2
    assert cached.prime(["甲"]) == 0
    calls = len(base.query_calls)
    assert np.array_equal(cached.embed_query("甲"), base._embed(["甲"])[0])
    assert len(base.query_calls) == calls
    cached.embed_query("丙")
    assert base.query_calls[-1] == ["丙"]


def _squad(tmp_path):
    articles = [
        {
            "id": f"ART_{a}",
            "title": f"标题{a}",
            "paragraphs": [
                {
                    "id": f"ART_{a}",
                    "context": "第一句。答案在这里。",
                    "qas": [
                        {
                            "id": f"Q{a}-{k}",
                            "question": "答案？",
                            "answers": [{"text": "答案", "answer_start": 4}],
                        }
                        for k in range(3)
                    ],
                }
            ],
        }
        for a in range(12)
    ]
    path = tmp_path / "cmrc.json"
    path.write_text(json.dumps({"data": articles}, ensure_ascii=False))
    return path


def test_cmrc_splits_whole_articles_and_titles_like_atoms(tmp_path):
    data = cmrc_to_beir(_squad(tmp_path), "sentence", titled=True)
    for qid, meta in data.query_meta.items():
        assert meta["split"] == cmrc_split("ART_" + qid[1:].split("-")[0])
    assert {m["split"] for m in data.query_meta.values()} == {"dev", "test"}
    dev, test = data.only("dev"), data.only("test")
    assert dev.qrels.keys().isdisjoint(test.qrels.keys())
    assert len(dev.qrels) + len(test.qrels) == len(data.qrels)
    assert dev.corpus is data.corpus, "both halves search the whole corpus"
    titled = {"title": "标题0", "text": "【标题0】答案在这里。", "type": "fact"}
    assert data.corpus["ART_0-s1"] == titled
    assert cmrc_to_beir(_squad(tmp_path), "sentence").corpus["ART_0-s1"]["text"] == "答案在这里。"


def _beir(folder, qrels: dict[str, str], corpus: bool = True):
    (folder / "qrels").mkdir(parents=True)
    if corpus:
        (folder / "corpus.jsonl").write_text('{"_id": "d1", "title": "", "text": "x"}\n')
    (folder / "queries.jsonl").write_text(
        '{"_id": "c1", "text": "a", "metadata": {"style": "english"}}\n'
        '{"_id": "c2", "text": "b", "metadata": {"style": "homophone"}}\n'
    )
    for split, body in qrels.items():
        (folder / "qrels" / f"{split}.tsv").write_text("query-id\tcorpus-id\tscore\n" + body)


def test_kdconv_asks_the_turns_before_grounded_answers_that_name_their_subject(tmp_path):
    story = "故宫是明清两代的皇家宫殿，" * 20  # a long value: an atom of its own
    kb = {"故宫": [["故宫", "门票", "60元"], ["故宫", "Information", story]]}
    turn = {"attrs": [{"name": "故宫", "attrname": "门票", "attrvalue": "60元"}]}
    dialogues = [
        {
            "messages": [
                {"message": "故宫的门票多少钱？"},
                {**turn, "message": "60元。"},
                {"message": "那开放时间呢？"},  # a follow-up: names nothing, left out
                {**turn, "message": "早上八点半开门。"},
                {"message": "讲讲故宫的历史吧"},
                {
                    "attrs": [{"name": "故宫", "attrname": "Information", "attrvalue": story}],
                    "message": "它是明清两代的皇家宫殿。",
                },
                {**turn, "message": "故宫门票60元。"},  # grounded itself: not a question
                {**turn, "message": "对。"},
            ]
        }
    ]
    (tmp_path / "kb.json").write_text(json.dumps(kb, ensure_ascii=False), encoding="utf-8")
    (tmp_path / "dev.json").write_text(json.dumps(dialogues, ensure_ascii=False), encoding="utf-8")
    data = kdconv_to_beir(tmp_path / "kb.json", tmp_path / "dev.json")
    titles = {i: d["title"] for i, d in data.corpus.items()}
    assert sorted(titles.values()) == ["故宫", "故宫 · Information"]
    asked = {data.queries[q]: [titles[a] for a in data.qrels[q]] for q in data.qrels}
    assert asked == {"故宫的门票多少钱？": ["故宫"], "讲讲故宫的历史吧": ["故宫 · Information"]}
    assert {data.query_meta[q]["split"] for q in data.qrels} == {cmrc_split("kdconv-0")}
    with pytest.raises(BadQueryError):
        kdconv_to_beir(tmp_path / "missing.json", tmp_path / "dev.json")


def test_splits_come_from_the_qrels_files_and_never_overlap(tmp_path):
    _beir(tmp_path / "golden", {"dev": "c1\td1\t2\n", "test": "c2\td1\t1\n"})
    data = load_splits(tmp_path / "golden")
    assert {q: m["split"] for q, m in data.query_meta.items()} == {"c1": "dev", "c2": "test"}
    assert load_beir(tmp_path / "golden").qrels == {"c2": {"d1": 1}}
    _beir(tmp_path / "both", {"dev": "c1\td1\t2\n", "test": "c1\td1\t1\n"})
    with pytest.raises(BadQueryError, match="c1"):
        load_splits(tmp_path / "both")


def test_a_set_without_corpus_reads_another_and_is_reported_by_style(tmp_path):
    _beir(tmp_path / "golden", {"test": "c1\td1\t2\n"})
    _beir(tmp_path / "colloquial", {"dev": "c1\td1\t2\n", "test": "c2\td1\t1\n"}, corpus=False)
    with pytest.raises(BadQueryError):
        load_splits(tmp_path / "colloquial")
    data = load_splits(tmp_path / "colloquial", corpus=tmp_path / "golden" / "corpus.jsonl")
    corpus = EvalCorpus("c", named_set(data, "colloquial"), by_style=("colloquial",))
    assert [(r.set, r.split, r.style, r.qids) for r in rows(corpus)] == [
        ("colloquial", "dev", "", ["c1"]),
        ("colloquial", "test", "", ["c2"]),
        ("colloquial", "dev", "english", ["c1"]),
        ("colloquial", "test", "homophone", ["c2"]),
    ]
    golden = named_set(load_splits(tmp_path / "golden", ("test",)), "golden")
    with pytest.raises(BadQueryError, match="c1"):
        merged(golden, corpus.data)


def test_loading_the_dictionary_again_does_not_change_how_jieba_cuts():
    import jieba

    from kg.dictionary import EntityDictionary, load_into_jieba
    from kg.models import DictionaryEntry

    dictionary = EntityDictionary([DictionaryEntry("c:1", "宁的时代测试名", [], "Customer")])
    load_into_jieba(dictionary)
    total = jieba.dt.total
    load_into_jieba(dictionary)  # every served_retriever (each index swap) loads it again
    assert jieba.dt.total == total
