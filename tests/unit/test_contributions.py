"""The contribution score (贡献度) and the report's order: pure logic."""

from datetime import date, datetime

import pytest

from kg.contributions import Contribution, day_start, rank

pytestmark = pytest.mark.unit


def person(name: str, **counts: int) -> Contribution:
    fields = dict.fromkeys(
        (
            "atoms",
            "approved",
            "citations",
            "answers",
            "helpful",
            "not_helpful",
            "used_in_deal",
            "deal_won",
            "deal_lost",
        ),
        0,
    )
    return Contribution(person=name, **{**fields, **counts})


@pytest.mark.parametrize(
    ("counts", "score"),
    [
        ({}, 0),
        ({"answers": 4}, 4),
        ({"helpful": 1}, 3),
        ({"used_in_deal": 1}, 5),
        ({"deal_won": 1}, 10),
        ({"not_helpful": 1}, -2),
        ({"deal_lost": 3}, 0),  # reported, never held against the knowledge
        # authorship and raw citation counts are reported but earn nothing by themselves
        ({"atoms": 50, "approved": 50, "citations": 9}, 0),
        (
            {"answers": 2, "helpful": 1, "not_helpful": 1, "used_in_deal": 1, "deal_won": 1},
            2 + 3 - 2 + 5 + 10,
        ),
    ],
)
def test_score(counts, score):
    assert person("张三", **counts).score == score


def test_rank_by_score_then_wider_use_then_name():
    rows = [
        person("丙", answers=3),
        person("乙", helpful=1),  # 3, fewer answers than 丙
        person("甲", deal_won=1),
        person("丁", answers=3),  # ties with 丙 on everything: by name
        person("戊", not_helpful=1, atoms=5),
        person("己", citations=2, answers=1, helpful=0, not_helpful=0, approved=0),
    ]
    ordered = [c.person for c in rank(rows)]
    assert ordered == ["甲", "丁", "丙", "乙", "己", "戊"]


def test_day_start_is_local_midnight_and_aware():
    start = day_start(date(2026, 3, 1))
    assert start.tzinfo is not None
    assert (start.year, start.month, start.day, start.hour, start.minute) == (2026, 3, 1, 0, 0)
    assert start.utcoffset() == datetime(2026, 3, 1).astimezone().utcoffset()
