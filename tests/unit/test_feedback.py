"""Feedback in ranking: bounded, per distinct voter, per similar question."""

import numpy as np
import pytest

from retrieval.feedback import (
    QUESTION_WEIGHT,
    WEIGHT,
    FeedbackCounts,
    FeedbackMemory,
    atom_bonus,
    memory_from_events,
    prior,
    rerank,
)

pytestmark = pytest.mark.unit

Q1, Q2 = np.array([1.0, 0.0]), np.array([0.0, 1.0])


def memory(events):
    vectors = {"热失控怎么讲": Q1, "光伏怎么报价": Q2}
    return memory_from_events(events, lambda qs: np.asarray([vectors[q] for q in qs]))


def test_atom_prior_is_bounded_and_one_vote_barely_moves_it():
    assert prior(FeedbackCounts()) == 0.0
    one = WEIGHT * prior(FeedbackCounts(helpful=1))
    assert 0 < one < 0.01
    many = WEIGHT * prior(FeedbackCounts(helpful=10_000))
    assert many < WEIGHT / 2
    assert prior(FeedbackCounts(not_helpful=5)) < 0 < prior(FeedbackCounts(deal_won=1))


def test_votes_count_once_per_voter_and_only_for_similar_questions():
    events = [("热失控怎么讲", "a1", "helpful", "rep-1")] * 20
    bonus = memory(events).bonus(Q1)
    assert 0 < bonus["a1"] < 0.025, "twenty clicks by one rep are one vote"
    assert memory(events).bonus(Q2) == {}, "votes stay with questions like theirs"


def test_many_voters_saturate_below_the_cap():
    events = [("热失控怎么讲", "a1", "not_helpful", f"rep-{i}") for i in range(100)]
    assert -QUESTION_WEIGHT < memory(events).bonus(Q1)["a1"] < -0.15


def test_rerank_reorders_near_ties_only():
    ranked = [("strong", 1.2), ("a", 0.50), ("b", 0.49)]
    bonus = {"b": 0.05, "a": -0.02, **atom_bonus({"strong": -0.4})}
    assert [i for i, _ in rerank(ranked, bonus)] == ["strong", "b", "a"]


def test_memory_survives_save_and_load(tmp_path):
    saved = memory([("热失控怎么讲", "a1", "helpful", "rep-1")])
    saved.save(tmp_path)
    loaded = FeedbackMemory.load(tmp_path)
    assert loaded.bonus(Q1) == saved.bonus(Q1)
    assert FeedbackMemory.load(tmp_path / "missing").bonus(Q1) == {}
