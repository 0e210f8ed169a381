"""Compose one structured Chinese answer from the retrieved atoms, every point cited.

Deterministic: the answer is built from the atoms' own text, grouped by what they are for.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pydantic import BaseModel, Field

from kg.models import AtomType
from kg.store import StoredAtom
from retrieval.query import Intent, Query

MAX_POINT_CHARS = 160
_EMPHASIS = re.compile(r"\*{1,2}|_{2}")  # Markdown bold/italic markers
_LIST_MARKER = re.compile(r"^\s*(?:[-*+•]|\d+[.、)）])\s*")

# Answer sections in reading order, and the atom types that feed each.
SECTIONS: tuple[tuple[str, tuple[AtomType, ...]], ...] = (
    ("核心要点", (AtomType.SOLUTION_POINT, AtomType.PAIN_POINT)),
    ("推荐话术", (AtomType.TALK_TRACK, AtomType.OBJECTION)),
    ("术语解释", (AtomType.TERM,)),
    ("支撑案例", (AtomType.CASE,)),
    ("风险与教训", (AtomType.LESSON, AtomType.COMPETITOR)),
    ("一线反馈", (AtomType.FIELD_NOTE,)),
    ("客户与背景", (AtomType.FACT,)),
)
# The section a question's intent puts first.
LEAD_SECTION = {
    Intent.DEFINITION: "术语解释",
    Intent.OBJECTION: "推荐话术",
    Intent.HOWTO: "推荐话术",
    Intent.CASE: "支撑案例",
    Intent.LESSON: "风险与教训",
}
INTENT_LABELS_ZH = {
    Intent.DEFINITION: "术语解释",
    Intent.HOWTO: "怎么做/怎么讲",
    Intent.CASE: "找案例",
    Intent.OBJECTION: "异议应对",
    Intent.LESSON: "复盘教训",
    Intent.EXPLAIN: "综合说明",
}


class Citation(BaseModel):
    """Where a point comes from: the atom, its source document, and the graph path (if any)
    that made it relevant to the question."""

    number: int
    atom_id: str
    atom_title: str
    document_title: str
    document_path: str
    section: str
    path: list[str] = []


class AnswerPoint(BaseModel):
    text: str
    citations: list[int]


class AnswerSection(BaseModel):
    heading: str
    points: list[AnswerPoint]


class Answer(BaseModel):
    """The composed answer: sections of cited points and the citation list."""

    question: str
    intent: str = Intent.EXPLAIN.value
    entities: list[str] = []
    sections: list[AnswerSection]
    citations: list[Citation]
    polished: str | None = None  # fluent rewrite by a language model, when one is configured
    answered: bool = Field(
        True,
        description="false: the knowledge holds no reliable answer; `leads` are the nearest atoms",
    )
    confidence: float = Field(1.0, description="0-1: how sure the knowledge is of this answer")
    leads: list[Citation] = Field(
        default_factory=list, description="when not answered: the nearest atoms, as leads only"
    )
    note: str | None = Field(None, description="how the question was read, e.g. an English one")
    rewritten: str | None = Field(
        None,
        description="a follow-up as read with its conversation: the question spelled out "
        "(`question` is then as asked)",
        examples=["比亚迪的热失控方案怎么讲？"],
    )

    def to_text(self) -> str:
        """Plain-text rendering for terminals and chat."""
        if not self.answered:
            lines = [f"问题：{self.question}", DECLINED]
            if self.leads:
                lines += ["", "最接近的线索（仅供参考，不是答案）："]
                lines += [
                    f"[线索{c.number}] {c.atom_title}（{c.document_path}）" for c in self.leads
                ]
            return "\n".join(lines)
        if not self.sections:
            return f"问题：{self.question}\n未找到相关知识，请换个说法或联系知识运营补充。"
        lines = [f"问题：{self.question}"]
        if self.note:
            lines.append(self.note)
        lines += [self.understood(), ""]
        for section in self.sections:
            lines.append(f"【{section.heading}】")
            for point in section.points:
                refs = "".join(f"[{n}]" for n in point.citations)
                lines.append(f"- {point.text} {refs}")
            lines.append("")
        lines.append("引用：")
        for c in self.citations:
            via = f"  关联路径：{' → '.join(c.path)}" if len(c.path) > 1 else ""
            lines.append(
                f"[{c.number}] {c.atom_title}（{c.document_path} · {c.section or '全文'}）{via}"
            )
        return "\n".join(lines)

    def understood(self) -> str:
        """How the question was read: 理解：[the spelled-out follow-up（承接上一问）；]intent
        [；识别到 entities]."""
        parts = [f"{self.rewritten.rstrip('？?')}（承接上一问）"] if self.rewritten else []
        parts.append(INTENT_LABELS_ZH.get(Intent(self.intent), "综合说明"))
        if self.entities:
            parts.append(f"识别到 {'、'.join(self.entities)}")
        return "理解：" + "；".join(parts)

    # -- for chat clients: the answer as one message, cited [n], references at the end ------
    def chat_parts(self) -> list[str]:
        """The chat message in the order a stream sends it: how the question was read, each
        section, the polished prose (when there is one), the numbered references."""
        if not self.answered or not self.sections:
            return [self.chat_declined()]
        return [
            self.chat_head(),
            *(chat_section(s) for s in self.sections),
            chat_polished(self.polished) if self.polished else "",
            self.references(),
        ]

    def chat_head(self) -> str:
        return self.understood() + "\n\n" + (f"{self.note}\n\n" if self.note else "")

    def chat_declined(self) -> str:
        if self.answered:  # nothing found, nothing to decline from
            return "未找到相关知识，请换个说法或联系知识运营补充。"
        text = DECLINED
        if self.leads:
            leads = "\n".join(f"{c.number}. {_reference(c)}" for c in self.leads)
            text += f"\n\n最接近的线索（仅供参考，不是答案）：\n{leads}"
        return text

    def references(self) -> str:
        """The numbered reference list that ends a chat message."""
        return "参考资料：\n" + "\n".join(f"[{c.number}] {_reference(c)}" for c in self.citations)

    def to_chat(self) -> str:
        return "".join(self.chat_parts()).rstrip()


def chat_section(section: AnswerSection) -> str:
    points = "\n".join(
        f"- {p.text} {''.join(f'[{n}]' for n in p.citations)}" for p in section.points
    )
    return f"【{section.heading}】\n{points}\n\n"


CHAT_POLISHED_HEADING = "【可以这样讲】\n"


def chat_polished(text: str) -> str:
    return f"{CHAT_POLISHED_HEADING}{text}\n\n"


def _reference(c: Citation) -> str:
    via = f"（关联路径：{' → '.join(c.path)}）" if len(c.path) > 1 else ""
    return f"{c.atom_title} — {c.document_title or c.document_path} · {c.section or '全文'}{via}"


def compose(
    query: Query, found: Sequence[tuple[StoredAtom, Sequence[str]]], confidence: float = 1.0
) -> Answer:
    """Group the atoms (best first) into sections, the intent's section first; number the
    citations and keep each atom's graph path."""
    citations: list[Citation] = []
    by_type: dict[AtomType, list[AnswerPoint]] = {}
    for stored, path in found:
        atom = stored.atom
        number = len(citations) + 1
        citations.append(citation(number, stored, path))
        by_type.setdefault(atom.type, []).append(
            AnswerPoint(text=point_text(atom.text), citations=[number])
        )
    sections = []
    for heading, types in SECTIONS:
        points = [p for t in types for p in by_type.get(t, [])]
        if points:
            sections.append(AnswerSection(heading=heading, points=points))
    lead = LEAD_SECTION.get(query.intent)
    sections.sort(key=lambda s: s.heading != lead)
    return Answer(
        question=query.text,
        intent=query.intent.value,
        entities=list(dict.fromkeys(e.surface for e in query.entities)),
        sections=sections,
        citations=citations,
        confidence=round(confidence, 4),
        note=_note(query),
    )


def decline(
    query: Query, nearest: Sequence[tuple[StoredAtom, Sequence[str]]], confidence: float
) -> Answer:
    """No reliable answer: say so, and show the nearest atoms apart, marked as leads."""
    return Answer(
        question=query.text,
        intent=query.intent.value,
        entities=list(dict.fromkeys(e.surface for e in query.entities)),
        sections=[],
        citations=[],
        answered=False,
        confidence=round(confidence, 4),
        leads=[citation(n, stored, path) for n, (stored, path) in enumerate(nearest, start=1)],
        note=_note(query),
    )


DECLINED = (
    "知识库中暂时没有这个问题的可靠答案。可以换个说法，或写明客户、产品或行业再问；"
    "这类问题会作为知识缺口交给知识运营补充。"
)
ENGLISH_NOTE = (
    "说明：问题是英文，以下回答来自中文知识库。(Answered from the Chinese knowledge base.)"
)
_LATIN = re.compile(r"[A-Za-z]")
_CJK = re.compile(r"[\u4e00-\u9fff]")


def _note(query: Query) -> str | None:
    latin, cjk = len(_LATIN.findall(query.text)), len(_CJK.findall(query.text))
    return ENGLISH_NOTE if latin > 3 * max(cjk, 1) else None


def citation(number: int, stored: StoredAtom, path: Sequence[str]) -> Citation:
    atom = stored.atom
    return Citation(
        number=number,
        atom_id=atom.id,
        atom_title=atom.title,
        document_title=stored.document_title,
        document_path=stored.document_path,
        section=atom.source.section,
        path=_path(path, atom.title),
    )


def _path(path: Sequence[str], title: str) -> list[str]:
    """The graph path ending at the atom; none when it says no more than the atom's title."""
    if not path or (len(path) == 1 and path[0] == title):
        return []
    return [*path, title]


def _body_lines(text: str) -> list[str]:
    """The non-empty lines of an atom's text, without its context prefix or list markers."""
    body = text.split("】", 1)[1] if text.startswith("【") and "】" in text else text
    body = _EMPHASIS.sub("", body)
    lines = (_LIST_MARKER.sub("", line).strip() for line in body.splitlines())
    return [line for line in lines if line]


def point_text(text: str) -> str:
    """The atom's text without its context prefix or list markup, cut near the limit."""
    body = ""
    for line in _body_lines(text):
        body += ("；" if body and body[-1] not in "。！？；;：:" else "") + line
    if len(body) <= MAX_POINT_CHARS:
        return body
    cut = max(body.rfind(p, 0, MAX_POINT_CHARS) for p in "。！？；")
    return body[: cut + 1] if cut > MAX_POINT_CHARS // 3 else body[:MAX_POINT_CHARS] + "…"
