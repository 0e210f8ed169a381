"""Retrieval quality pinned on fixed data, with the real embedding model.

Floors sit a little under the figures measured on 2026-11-27 (docs/retrieval.md), so a real
regression fails while run-to-run noise does not. The fused retriever must beat every single
retriever on the golden set and on CMRC 2018 sentence level.
"""

import pytest

from api.evaluate import graph_for_corpus
from retrieval.beir import cmrc_to_beir, load_beir
from retrieval.evaluation import PRIMARY, run_evaluation
from retrieval.feedback_eval import run_feedback_experiment
from tests.conftest import ROOT, SAMPLES, EVAL_DATA, TEST_HOME

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CACHE = TEST_HOME / "cache" / "embeddings"
CMRC = EVAL_DATA / "cmrc2018" / "cmrc2018_trial.json"


def _ndcg(metrics, system):
    return metrics[system]["nDCG@10"]


@pytest.fixture(scope="module")
def golden(embedder):
    data = load_beir(ROOT / "data" / "golden")
    dictionary, snapshot = graph_for_corpus(data, SAMPLES)
    result = run_evaluation(
        data, embedder, dictionary=dictionary, snapshot=snapshot, cache_dir=CACHE
    )
    return data, result


def test_golden_set(golden):
    m = golden[1].metrics
    assert _ndcg(m, "dense") >= 0.76
    assert _ndcg(m, "lexical") >= 0.70
    assert _ndcg(m, "hybrid(all)") >= 0.80
    assert m["hybrid(all)"]["R@10"] >= 0.92
    best_single = max(_ndcg(m, s) for s in ("dense", "lexical", "graph"))
    assert _ndcg(m, "hybrid(all)") > best_single + 0.02


def test_cmrc_sentence_level(embedder):
    m = run_evaluation(cmrc_to_beir(CMRC, "sentence"), embedder, cache_dir=CACHE).metrics
    assert _ndcg(m, "dense") >= 0.73
    assert _ndcg(m, "hybrid(dense+lexical)") >= 0.76
    assert _ndcg(m, "hybrid(dense+lexical)") > max(_ndcg(m, "dense"), _ndcg(m, "lexical")) + 0.01


def test_cmrc_paragraph_level(embedder):
    m = run_evaluation(cmrc_to_beir(CMRC, "paragraph"), embedder, cache_dir=CACHE).metrics
    assert _ndcg(m, "hybrid(dense+lexical)") >= 0.97
    assert m["hybrid(dense+lexical)"]["R@10"] >= 0.98


def test_feedback_moves_golden_rankings_the_right_way_and_not_the_wrong_way(golden, embedder):
    data, result = golden
    qids = list(data.queries)
    vectors = dict(zip(qids, embedder.embed_queries([data.queries[q] for q in qids]), strict=True))
    table = run_feedback_experiment(result.runs[PRIMARY], data.qrels, data.queries, vectors)
    base = table["baseline"]

    def delta(scenario, half):
        return table[scenario][half] - base[half]

    # Measured 2026-11-27: honest +0.035 / 0.000; one vote against -0.014; noise -0.002 (mean
    # of 10 draws; single draws spread -0.012 to +0.011, so near-ties decide);
    # ten voters against -0.156 on their own questions, 0.000 on the others.
    assert delta("honest", "seen") >= 0.025, table
    assert delta("honest", "unseen") >= -0.005, "honest feedback must not hurt other questions"
    assert delta("one_vote_against", "seen") >= -0.025, "one vote must not swing results"
    assert delta("noise", "seen") >= -0.01 and delta("noise", "unseen") >= -0.005
    assert delta("many_against", "unseen") >= -0.005, "wrong votes stay on their own questions"
