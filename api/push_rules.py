"""Push rules: when a CRM event about an opportunity warrants pushing knowledge to its rep.

A rule reads the events of the kinds it lists and fires on what it is for:

| kind | fires when |
|---|---|
| ``competitor_first_mention`` | a competitor is named on the opportunity for the first time |
| ``stage_change`` | the opportunity moves to another stage |
| ``phrase`` | the text holds one of the rule's phrases (an objection: 嫌贵, 太贵, 质疑…) |
| ``question`` | the text reports a customer question still open (客户问…, 待答复, 没答上…) |
| ``metric_threshold`` | a metric crosses the threshold (was on the near side, or unknown) |

The rules live in Neo4j (``PushRule`` nodes), editable by admins (``PUT /v1/push-rules``);
``DEFAULT_RULES`` are written at the first start. Rules match plain phrases, never regular
expressions (a pattern from an API call must not be able to stall the server), and hold no
address: pushes go only to the webhook the operator configured. Everything here is pure.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from retrieval.answers.brief_sections import STAGE_SECTIONS, SectionKey, Stage

MAX_RULES = 50
QUOTE_CHARS = 60  # of an event's sentence, quoted in a push's reason


class EventKind(StrEnum):
    NOTE = "note"  # a rep's note on the opportunity
    EMAIL_SUMMARY = "email_summary"  # a summary of an email thread with the customer
    STAGE_CHANGE = "stage_change"
    METRIC_THRESHOLD = "metric_threshold"  # a metric the CRM tracks (win probability…)
    CUSTOMER_SEARCH = "customer_search"  # the rep looked the customer up in the CRM


class RuleKind(StrEnum):
    COMPETITOR_FIRST_MENTION = "competitor_first_mention"
    STAGE_CHANGE = "stage_change"
    PHRASE = "phrase"
    QUESTION = "question"
    METRIC_THRESHOLD = "metric_threshold"


class PushRule(BaseModel):
    """One rule, as stored and as admins read and write it."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$", examples=["objection-phrase"])
    name: str = Field(min_length=1, max_length=60, examples=["客户异议"])
    kind: RuleKind
    enabled: bool = True
    events: list[EventKind] = Field(min_length=1, max_length=len(EventKind))
    phrases: list[str] = Field(
        default_factory=list,
        max_length=100,
        description="phrase, question: fires on any of these (plain text, not patterns)",
    )
    metric: str | None = Field(None, max_length=60, examples=["win_probability"])
    direction: Literal["above", "below"] | None = None
    threshold: float | None = None
    section: SectionKey | None = Field(
        None,
        description="the brief section pushed; stage_change without one: the new stage's first",
    )

    @model_validator(mode="after")
    def _complete(self) -> PushRule:
        if any(not p.strip() or len(p) > 40 for p in self.phrases):
            raise ValueError("phrases are 1 to 40 characters, not blank")
        if self.kind in (RuleKind.PHRASE, RuleKind.QUESTION) and not self.phrases:
            raise ValueError(f"a {self.kind.value} rule needs phrases")
        if self.kind is RuleKind.METRIC_THRESHOLD and (
            self.metric is None or self.direction is None or self.threshold is None
        ):
            raise ValueError("a metric_threshold rule needs metric, direction and threshold")
        if self.kind is not RuleKind.STAGE_CHANGE and self.section is None:
            raise ValueError(f"a {self.kind.value} rule needs the section it pushes")
        return self


def check_rule_set(rules: Sequence[PushRule]) -> None:
    """``ValueError`` unless the ids are unique and there are not too many rules."""
    if len(rules) > MAX_RULES:
        raise ValueError(f"at most {MAX_RULES} rules")
    ids = [r.id for r in rules]
    if len(set(ids)) != len(ids):
        raise ValueError("rule ids must be unique")


TEXT_EVENTS = [EventKind.NOTE, EventKind.EMAIL_SUMMARY]
OBJECTION_PHRASES = [
    "嫌贵", "太贵", "价格高", "价格偏高", "报价高", "贵了", "预算不够", "预算有限", "压价",
    "要求降价", "再便宜", "质疑", "不信", "怀疑", "顾虑", "不放心",
]  # fmt: skip
QUESTION_CUES = [
    "客户问", "客户追问", "对方问", "问我们", "还问", "没答上", "答不上", "待答复", "待回复",
    "还没回复", "需要回复", "要求我们解释", "要我们解释", "让我们解释", "请我们说明", "要我们给",
]  # fmt: skip

DEFAULT_RULES: tuple[PushRule, ...] = (
    PushRule(
        id="competitor-first-mention",
        name="首次提到竞品",
        kind=RuleKind.COMPETITOR_FIRST_MENTION,
        events=[*TEXT_EVENTS, EventKind.STAGE_CHANGE, EventKind.CUSTOMER_SEARCH],
        section=SectionKey.COMPETITORS,
    ),
    PushRule(
        id="stage-change",
        name="阶段变更",
        kind=RuleKind.STAGE_CHANGE,
        events=[EventKind.STAGE_CHANGE],
    ),
    PushRule(
        id="objection-phrase",
        name="客户异议",
        kind=RuleKind.PHRASE,
        events=TEXT_EVENTS,
        phrases=OBJECTION_PHRASES,
        section=SectionKey.OBJECTIONS,
    ),
    PushRule(
        id="open-question",
        name="客户问题待答复",
        kind=RuleKind.QUESTION,
        events=TEXT_EVENTS,
        phrases=QUESTION_CUES,
        section=SectionKey.ANSWERS,
    ),
    PushRule(
        id="win-probability-low",
        name="赢率跌破30%",
        kind=RuleKind.METRIC_THRESHOLD,
        events=[EventKind.METRIC_THRESHOLD],
        metric="win_probability",
        direction="below",
        threshold=0.3,
        section=SectionKey.LESSONS,
    ),
    PushRule(
        id="discount-high",
        name="折扣超过15%",
        kind=RuleKind.METRIC_THRESHOLD,
        events=[EventKind.METRIC_THRESHOLD],
        metric="discount_rate",
        direction="above",
        threshold=0.15,
        section=SectionKey.OBJECTIONS,
    ),
)


@dataclass(frozen=True)
class Signal:
    """One event, with what the opportunity's history adds (first mentions, the stage before,
    the metric's previous value)."""

    kind: EventKind
    text: str = ""
    stage: Stage | None = None
    previous_stage: Stage | None = None
    new_competitors: tuple[str, ...] = ()  # names never seen on this opportunity before
    metric: str | None = None
    value: float | None = None
    previous_value: float | None = None


@dataclass(frozen=True)
class Match:
    rule: PushRule
    section: SectionKey
    reason: str  # Chinese, for the rep
    lead: str = ""  # words that lead the section's query (the question, the objection)
    names: tuple[str, ...] = ()  # competitor names the reason shows


def evaluate(rules: Sequence[PushRule], signal: Signal) -> list[Match]:
    """The rules an event fires, in the rules' order."""
    matches = []
    for rule in rules:
        if rule.enabled and signal.kind in rule.events:
            match = _fire(rule, signal)
            if match is not None:
                matches.append(match)
    return matches


def _fire(rule: PushRule, s: Signal) -> Match | None:
    if rule.kind is RuleKind.COMPETITOR_FIRST_MENTION:
        return _competitor(rule, s)
    if rule.kind is RuleKind.STAGE_CHANGE:
        return _stage_change(rule, s)
    if rule.kind in (RuleKind.PHRASE, RuleKind.QUESTION):
        return _phrase(rule, s)
    return _metric(rule, s)


def _competitor(rule: PushRule, s: Signal) -> Match | None:
    if not s.new_competitors:
        return None
    names = "、".join(s.new_competitors)
    section = rule.section or SectionKey.COMPETITORS
    return Match(rule, section, f"首次提到竞品：{names}", names, s.new_competitors)


def _stage_change(rule: PushRule, s: Signal) -> Match | None:
    if s.stage is None or s.stage == s.previous_stage:
        return None
    section = rule.section or STAGE_SECTIONS[s.stage][0]
    before = f"{s.previous_stage.value} → " if s.previous_stage else ""
    return Match(rule, section, f"阶段变更：{before}{s.stage.value}")


def _phrase(rule: PushRule, s: Signal) -> Match | None:
    """An objection phrase, or a cue of an open question: the sentence holding it leads
    the pushed section's query."""
    found = first_phrase(s.text, rule.phrases)
    if found is None:
        return None
    sentence = sentence_with(s.text, found)
    if rule.kind is RuleKind.PHRASE:
        quoted = found
    else:
        quoted = sentence[:QUOTE_CHARS] + ("…" if len(sentence) > QUOTE_CHARS else "")
    assert rule.section is not None  # required by the rule's validation
    return Match(rule, rule.section, f"{rule.name}：「{quoted}」", sentence)


def _metric(rule: PushRule, s: Signal) -> Match | None:
    if s.metric != rule.metric or s.value is None:
        return None
    assert rule.direction is not None and rule.threshold is not None and rule.section
    if not crosses(rule.direction, rule.threshold, s.previous_value, s.value):
        return None
    side = "低于" if rule.direction == "below" else "高于"
    reason = f"{rule.name}：{s.metric} = {s.value:g}（{side} {rule.threshold:g}）"
    return Match(rule, rule.section, reason)


def crosses(direction: str, threshold: float, previous: float | None, value: float) -> bool:
    """Whether ``value`` is past the threshold (strictly) and ``previous`` was not, or is
    unknown: a metric that stays past it fires once, not on every update."""

    def past(v: float) -> bool:
        return v < threshold if direction == "below" else v > threshold

    return past(value) and (previous is None or not past(previous))


def first_phrase(text: str, phrases: Sequence[str]) -> str | None:
    """The phrase that occurs first in ``text`` (case-insensitive), if any."""
    lowered = text.lower()
    found = [(lowered.find(p.lower()), p) for p in phrases if p.strip()]
    hits = sorted((at, -len(p), p) for at, p in found if at >= 0)
    return hits[0][2] if hits else None


_SENTENCE = re.compile(r"[^。！？!?；;\n]+[。！？!?；;]?")


def sentence_with(text: str, phrase: str) -> str:
    """The sentence of ``text`` that holds ``phrase`` (the phrase itself when none does)."""
    for sentence in _SENTENCE.findall(text):
        if phrase.lower() in sentence.lower():
            return sentence.strip()
    return phrase


def dedup_key(namespace: str, opportunity_id: str, rule_id: str, atom_ids: Sequence[str]) -> str:
    """One push per (opportunity, rule, content): the same atoms for the same reason on the
    same opportunity are pushed once, whatever events repeat them."""
    parts = [namespace, opportunity_id, rule_id, *sorted(set(atom_ids))]
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:32]
