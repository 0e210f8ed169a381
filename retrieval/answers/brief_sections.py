"""What a brief is and holds at each stage of a deal: the context it is made from, the
sections and what feeds each, how a section's query is written, and the composed brief.
Pure data and functions (``retrieval/answers/brief.py`` composes)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from itertools import pairwise

from pydantic import BaseModel, Field

from retrieval.answers.answer import AnswerPoint, Citation

MAX_QUERY_CHARS = 500  # as a question (retrieval/service.py)
NOTES_CHARS = 200  # of the notes, in a section's query
NEAR_DUPLICATE = 0.6  # share of shared character pairs above which a point repeats another


class Stage(StrEnum):
    """The stages of a B2B deal as Chinese CRMs name them."""

    LEAD = "线索"
    DISCOVERY = "需求确认"
    TECHNICAL = "技术交流"
    PROPOSAL = "方案"
    NEGOTIATION = "商务谈判"
    SIGNING = "签约"


# What CRMs and English callers also send for a stage.
STAGE_ALIASES: dict[str, Stage] = {
    "lead": Stage.LEAD,
    "discovery": Stage.DISCOVERY,
    "qualification": Stage.DISCOVERY,
    "technical": Stage.TECHNICAL,
    "proposal": Stage.PROPOSAL,
    "solution": Stage.PROPOSAL,
    "方案制定": Stage.PROPOSAL,
    "negotiation": Stage.NEGOTIATION,
    "谈判": Stage.NEGOTIATION,
    "signing": Stage.SIGNING,
    "closing": Stage.SIGNING,
    "合同签订": Stage.SIGNING,
}


def parse_stage(value: str) -> Stage:
    """A stage by its Chinese name or an alias; ``ValueError`` names the stages otherwise."""
    text = value.strip()
    if text in Stage._value2member_map_:
        return Stage(text)
    if text.lower() in STAGE_ALIASES:
        return STAGE_ALIASES[text.lower()]
    names = "、".join(s.value for s in Stage)
    raise ValueError(f"unknown stage {value!r}; use one of {names}")


class SectionKey(StrEnum):
    OPENING = "opening"
    CONCERNS = "concerns"
    SOLUTION = "solution"
    OBJECTIONS = "objections"
    CASES = "cases"
    LESSONS = "lessons"
    COMPETITORS = "competitors"
    TERMS = "terms"
    ANSWERS = "answers"  # for a customer's open question (pushes), not part of a stage


@dataclass(frozen=True)
class SectionSpec:
    heading: str
    types: frozenset[str]
    cue: str  # words that lead the retrievers to this section's kind of knowledge
    empty: str  # shown when the knowledge has nothing for it
    limit: int = 3
    # Atoms that only the customer's own (tier 0) may bring, and only when they name a term it
    # cares about: an industry's fact cards, or the customer's profile, are not its concerns.
    customer_only: frozenset[str] = frozenset()
    # Atoms the text alone found (about none of the context's entities) must score this share
    # of the best candidate's fused score.
    min_share: float = 0.6
    roles: bool = False  # the contacts' roles join the query (who the words are for)
    per_document: int = 2  # points from one document (one case, one review)
    per_type: tuple[tuple[str, int], ...] = ()  # at most so many points of a type
    prefer: tuple[str, ...] = ()  # of a document's atoms, those of sections named so first


SECTIONS: dict[SectionKey, SectionSpec] = {
    SectionKey.OPENING: SectionSpec(
        "开场与破冰话术",
        frozenset({"talk_track"}),
        "开场 破冰 推荐话术 怎么讲",
        "暂无可用的开场话术，建议先了解客户现状再沟通。",
        roles=True,
    ),
    SectionKey.CONCERNS: SectionSpec(
        "客户关注点与痛点",
        frozenset({"pain_point", "fact", "field_note"}),
        "客户关注 痛点 挑战",
        "暂无该客户或行业的关注点与痛点资料。",
        customer_only=frozenset({"fact"}),
        per_type=(("fact", 1),),  # the customer's card of concerns, once
    ),
    SectionKey.SOLUTION: SectionSpec(
        "方案要点", frozenset({"solution_point"}), "方案要点 怎么做", "暂无可参考的方案要点。"
    ),
    SectionKey.OBJECTIONS: SectionSpec(
        "常见异议与应对",
        frozenset({"objection"}),
        "常见异议 顾虑 质疑 应对",
        "暂无常见异议与应对资料。",
        roles=True,
    ),
    SectionKey.CASES: SectionSpec(
        "相似成功案例",
        frozenset({"case"}),
        "成功案例 成果",
        "暂无相似的成功案例。",
        per_document=1,  # several cases, not three paragraphs of one
        prefer=("成果", "效果", "收益"),  # a case with its numbers
    ),
    SectionKey.LESSONS: SectionSpec(
        "失败复盘教训",
        frozenset({"lesson"}),
        "丢单 复盘 教训",
        "暂无相关的失败复盘教训。",
        per_document=1,
    ),
    SectionKey.COMPETITORS: SectionSpec(
        "竞品对比", frozenset({"competitor"}), "竞品 对比 应对", "暂无相关竞品的对比资料。"
    ),
    SectionKey.TERMS: SectionSpec(
        "术语速查", frozenset({"term"}), "术语", "暂无需要解释的术语。", limit=4
    ),
    SectionKey.ANSWERS: SectionSpec(
        "客户问题参考",
        frozenset({"solution_point", "objection", "talk_track", "case", "term", "lesson"}),
        "",
        "暂无可参考的知识，建议请教产品或方案同事。",
    ),
}

# Each stage's sections, most pressing first.
STAGE_SECTIONS: dict[Stage, tuple[SectionKey, ...]] = {
    Stage.LEAD: (SectionKey.OPENING, SectionKey.CONCERNS, SectionKey.CASES, SectionKey.TERMS),
    Stage.DISCOVERY: (
        SectionKey.CONCERNS,
        SectionKey.OPENING,
        SectionKey.CASES,
        SectionKey.TERMS,
        SectionKey.LESSONS,
    ),
    Stage.TECHNICAL: (
        SectionKey.SOLUTION,
        SectionKey.CONCERNS,
        SectionKey.TERMS,
        SectionKey.OBJECTIONS,
        SectionKey.CASES,
        SectionKey.COMPETITORS,
    ),
    Stage.PROPOSAL: (
        SectionKey.SOLUTION,
        SectionKey.CASES,
        SectionKey.OBJECTIONS,
        SectionKey.COMPETITORS,
        SectionKey.LESSONS,
    ),
    Stage.NEGOTIATION: (
        SectionKey.OBJECTIONS,
        SectionKey.COMPETITORS,
        SectionKey.CASES,
        SectionKey.LESSONS,
    ),
    Stage.SIGNING: (SectionKey.LESSONS, SectionKey.OBJECTIONS, SectionKey.CASES),
}


def sections_for(stage: Stage, competitors_named: bool) -> tuple[SectionKey, ...]:
    """The stage's sections; 竞品对比 joins at the end of any stage once a competitor is named."""
    keys = STAGE_SECTIONS[stage]
    if competitors_named and SectionKey.COMPETITORS not in keys:
        keys = (*keys, SectionKey.COMPETITORS)
    return keys


def section_query(
    context: BriefContext, spec: SectionSpec, names: Sequence[str], lead: str = ""
) -> str:
    """The text ranked for one section: what triggered it (a push's words), the customer and
    industry names, products, competitors, roles (for talk tracks and objections), the
    section's cue words and the start of the notes; within the question length limit."""
    parts = [
        lead.strip(),
        *names,
        *context.products,
        *context.competitors,
        *(context.roles if spec.roles else ()),
        spec.cue,
    ]
    head = " ".join(dict.fromkeys(p for p in parts if p))
    notes = " ".join(context.notes.split())[:NOTES_CHARS]
    return f"{head} {notes}".strip()[:MAX_QUERY_CHARS]


def _pairs(text: str) -> set[str]:
    chars = [c for c in text if not c.isspace() and c not in "，。；：、！？,.;:!?\"'“”（）()"]
    return {a + b for a, b in pairwise(chars)}


def near_duplicate(a: str, b: str) -> bool:
    """Whether two points say the same (character pairs, Jaccard), e.g. one talk track kept
    both in a case study and in the CRM's notes."""
    pa, pb = _pairs(a), _pairs(b)
    if not pa or not pb:
        return a == b
    return len(pa & pb) / len(pa | pb) >= NEAR_DUPLICATE


# -- the context and the brief ----------------------------------------------------------
@dataclass(frozen=True)
class BriefContext:
    """An opportunity as the CRM holds it."""

    customer: str
    stage: Stage
    industry: str | None = None
    products: tuple[str, ...] = ()
    competitors: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    notes: str = ""


class BriefSection(BaseModel):
    key: SectionKey
    heading: str = Field(examples=["方案要点"])
    points: list[AnswerPoint]
    empty: str | None = Field(None, description="when there are no points: 暂无…, in Chinese")


class Brief(BaseModel):
    """One composed brief: sections chosen for the stage, every point cited."""

    customer: str = Field(description="the customer as the knowledge names it, or as given")
    customer_known: bool = Field(description="false: the brief falls back to industry knowledge")
    stage: Stage
    industry: str | None = Field(None, description="the industry used (given, or from the graph)")
    note: str | None = Field(None, description="how the brief was made, e.g. the fallback")
    entities: list[str] = Field(default_factory=list, description="entities recognised")
    sections: list[BriefSection]
    citations: list[Citation]

    def to_text(self) -> str:
        lines = [f"客户简报：{self.customer} · {self.stage.value}"]
        if self.industry:
            lines[0] += f" · {self.industry}"
        if self.note:
            lines.append(self.note)
        lines.append("")
        for section in self.sections:
            lines.append(f"【{section.heading}】")
            if not section.points:
                lines.append(f"- {section.empty}")
            for point in section.points:
                lines.append(f"- {point.text} {''.join(f'[{n}]' for n in point.citations)}")
            lines.append("")
        if self.citations:
            lines.append("引用：")
            lines += [
                f"[{c.number}] {c.atom_title}（{c.document_path} · {c.section or '全文'}）"
                for c in self.citations
            ]
        return "\n".join(lines)
