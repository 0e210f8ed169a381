"""Push rules and deliveries, the pure parts: which events fire which rules, dedup keys, the
HMAC signature, the backoff schedule, what each delivery outcome means, and settings that
refuse an unsigned or non-HTTP webhook."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from pydantic import ValidationError

from api.push_rules import (
    DEFAULT_RULES,
    EventKind,
    PushRule,
    RuleKind,
    Signal,
    check_rule_set,
    crosses,
    dedup_key,
    evaluate,
    first_phrase,
    sentence_with,
)
from api.pushes import Webhook, backoff, outcome, sign, verify
from api.settings import Settings
from api.signals import namespace_of
from kg.access import Viewer
from retrieval.answers.brief_sections import SectionKey, Stage

pytestmark = pytest.mark.unit


def fired(signal: Signal) -> list[str]:
    return [m.rule.id for m in evaluate(DEFAULT_RULES, signal)]


# -- rules -------------------------------------------------------------------------------------
def test_the_defaults_are_valid_and_unique():
    check_rule_set(DEFAULT_RULES)
    kinds = {r.kind for r in DEFAULT_RULES}
    assert kinds == set(RuleKind)


def test_a_competitor_fires_only_when_new():
    first = Signal(EventKind.NOTE, "锐驰科技也在投标", new_competitors=("锐驰科技",))
    (match,) = evaluate(DEFAULT_RULES, first)
    assert match.rule.id == "competitor-first-mention"
    assert match.section is SectionKey.COMPETITORS
    assert match.reason == "首次提到竞品：锐驰科技" and match.names == ("锐驰科技",)
    assert fired(Signal(EventKind.NOTE, "锐驰科技也在投标")) == []


def test_a_stage_change_pushes_the_new_stages_lead_section():
    (match,) = evaluate(
        DEFAULT_RULES,
        Signal(EventKind.STAGE_CHANGE, stage=Stage.NEGOTIATION, previous_stage=Stage.PROPOSAL),
    )
    assert match.section is SectionKey.OBJECTIONS
    assert match.reason == "阶段变更：方案 → 商务谈判"
    same = Signal(EventKind.STAGE_CHANGE, stage=Stage.PROPOSAL, previous_stage=Stage.PROPOSAL)
    assert fired(same) == []
    first = Signal(EventKind.STAGE_CHANGE, stage=Stage.LEAD)
    assert [m.reason for m in evaluate(DEFAULT_RULES, first)] == ["阶段变更：线索"]


def test_a_stage_in_a_note_is_not_a_stage_change():
    note = Signal(EventKind.NOTE, "例行拜访", stage=Stage.SIGNING, previous_stage=Stage.LEAD)
    assert fired(note) == []


def test_objection_phrases_fire_with_the_sentence_as_the_query():
    text = "今天拜访顺利。采购总监说我们比对手太贵了，要回去比价。下周再约。"
    (match,) = evaluate(DEFAULT_RULES, Signal(EventKind.EMAIL_SUMMARY, text))
    assert match.rule.id == "objection-phrase" and match.section is SectionKey.OBJECTIONS
    assert match.reason == "客户异议：「太贵」"
    assert match.lead == "采购总监说我们比对手太贵了，要回去比价。"


def test_an_open_question_is_quoted_and_answered():
    text = "客户问热扩散试验报告能不能给他们实验室复核？我说回去确认。"
    (match,) = evaluate(DEFAULT_RULES, Signal(EventKind.NOTE, text))
    assert match.rule.id == "open-question" and match.section is SectionKey.ANSWERS
    assert match.lead == "客户问热扩散试验报告能不能给他们实验室复核？"
    assert "客户问题待答复" in match.reason


def test_one_note_may_fire_several_rules_in_the_rules_order():
    text = "客户嫌贵，还问我们的方案和锐驰科技有什么区别，我没答上。"
    signal = Signal(EventKind.NOTE, text, new_competitors=("锐驰科技",))
    assert fired(signal) == ["competitor-first-mention", "objection-phrase", "open-question"]


def test_text_rules_ignore_searches_and_metrics():
    assert fired(Signal(EventKind.CUSTOMER_SEARCH, "宁德时代 太贵")) == []
    assert fired(Signal(EventKind.METRIC_THRESHOLD, "客户嫌贵")) == []


def test_a_plain_note_fires_nothing():
    assert fired(Signal(EventKind.NOTE, "拜访顺利，客户对方案满意，下周安排技术交流。")) == []


@pytest.mark.parametrize(
    ("previous", "value", "expected"),
    [
        (None, 0.25, True),
        (0.5, 0.25, True),
        (0.25, 0.2, False),
        (0.25, 0.5, False),
        (0.3, 0.3, False),
    ],
)
def test_win_probability_fires_when_it_crosses_below(previous, value, expected):
    signal = Signal(
        EventKind.METRIC_THRESHOLD, metric="win_probability", value=value, previous_value=previous
    )
    assert (fired(signal) == ["win-probability-low"]) is expected


def test_discount_fires_above_and_other_metrics_never():
    over = Signal(EventKind.METRIC_THRESHOLD, metric="discount_rate", value=0.2)
    (match,) = evaluate(DEFAULT_RULES, over)
    assert match.section is SectionKey.OBJECTIONS and "0.2" in match.reason
    assert fired(Signal(EventKind.METRIC_THRESHOLD, metric="pipeline_value", value=1e9)) == []


def test_crossing_in_both_directions():
    assert crosses("above", 10, 9, 11) and not crosses("above", 10, 11, 12)
    assert crosses("below", 10, None, 9) and not crosses("below", 10, None, 10)


def test_a_disabled_rule_never_fires():
    rules = [r.model_copy(update={"enabled": False}) for r in DEFAULT_RULES]
    assert evaluate(rules, Signal(EventKind.NOTE, "客户嫌贵")) == []


def test_phrases_and_sentences():
    assert first_phrase("他们嫌贵，也质疑交期", ["质疑", "嫌贵"]) == "嫌贵"
    assert first_phrase("Too EXPENSIVE", ["expensive"]) == "expensive"
    assert first_phrase("一切顺利", ["嫌贵"]) is None
    assert sentence_with("第一句。第二句嫌贵！第三句", "嫌贵") == "第二句嫌贵！"


@pytest.mark.parametrize(
    "change",
    [
        {"kind": "phrase", "phrases": []},
        {"kind": "metric_threshold", "metric": None},
        {"phrases": ["   "]},
        {"id": "Has Spaces"},
        {"section": None, "kind": "phrase"},
        {"url": "http://169.254.169.254/"},  # rules hold no address
    ],
)
def test_rules_that_cannot_work_are_refused(change):
    base = DEFAULT_RULES[2].model_dump()  # the objection rule
    with pytest.raises(ValidationError):
        PushRule.model_validate({**base, **change})


def test_duplicate_rule_ids_are_refused():
    with pytest.raises(ValueError, match="unique"):
        check_rule_set([DEFAULT_RULES[0], DEFAULT_RULES[0]])


# -- dedup keys -----------------------------------------------------------------------------
def test_the_dedup_key_is_per_opportunity_rule_and_content():
    key = dedup_key("team:华东", "OPP-1", "objection-phrase", ["a2", "a1"])
    assert key == dedup_key("team:华东", "OPP-1", "objection-phrase", ["a1", "a2", "a1"])
    assert len(key) == 32
    others = {
        dedup_key("team:华南", "OPP-1", "objection-phrase", ["a1", "a2"]),
        dedup_key("team:华东", "OPP-2", "objection-phrase", ["a1", "a2"]),
        dedup_key("team:华东", "OPP-1", "open-question", ["a1", "a2"]),
        dedup_key("team:华东", "OPP-1", "objection-phrase", ["a1", "a3"]),
    }
    assert key not in others and len(others) == 4


def test_namespaces_follow_the_key():
    assert namespace_of(Viewer("k1", "a", team="华东", user="王磊")) == "team:华东"
    assert namespace_of(Viewer("k1", "a", user="王磊")) == "user:王磊"
    assert namespace_of(Viewer("k1", "a")) == "key:k1"


# -- signatures, backoff, outcomes ------------------------------------------------------------
def test_the_signature_is_hmac_sha256_over_the_body():
    body = '{"push_id": "push-1", "text": "客户嫌贵"}'.encode()
    expected = hmac.new(b"s" * 16, body, hashlib.sha256).hexdigest()
    assert sign("s" * 16, body) == "sha256=" + expected
    assert verify("s" * 16, body, sign("s" * 16, body))
    assert not verify("t" * 16, body, sign("s" * 16, body))
    assert not verify("s" * 16, body + b" ", sign("s" * 16, body))


def test_backoff_doubles_up_to_the_cap():
    assert [backoff(n, 5, 60) for n in range(1, 7)] == [5, 10, 20, 40, 60, 60]
    assert backoff(0, 5, 60) == 5


HOOK = Webhook("http://127.0.0.1:9/hook", "s" * 16, max_attempts=3, backoff_base_s=2)


@pytest.mark.parametrize(
    ("attempt", "status", "state", "retry_s"),
    [
        (1, 200, "delivered", None),
        (1, 204, "delivered", None),
        (1, 500, "pending", 2),
        (2, 503, "pending", 4),
        (1, 429, "pending", 2),
        (1, None, "pending", 2),  # timeout or refused connection
        (3, 500, "failed", None),  # the last attempt
        (1, 400, "failed", None),  # the receiver refuses it: retrying will not help
        (1, 302, "failed", None),  # redirects are not followed
    ],
)
def test_what_a_delivery_attempt_means(attempt, status, state, retry_s):
    result = outcome(HOOK, attempt, status, None if status else "ConnectError")
    assert (result.state, result.retry_s) == (state, retry_s)


def test_a_webhook_needs_http_and_a_secret():
    ok = Settings(_env_file=None, push_webhook_url="https://crm.example.com/hook",
                  push_webhook_secret="x" * 16)  # fmt: skip
    assert ok.push_webhook_url == "https://crm.example.com/hook"
    for url, secret in [
        ("file:///etc/passwd", "x" * 16),
        ("gopher://127.0.0.1:6379/", "x" * 16),
        ("https://crm.example.com/hook", None),
        ("https://crm.example.com/hook", "short"),
    ]:
        with pytest.raises(ValidationError):
            Settings(_env_file=None, push_webhook_url=url, push_webhook_secret=secret)
