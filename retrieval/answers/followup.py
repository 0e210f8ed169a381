"""Follow-up questions: a question read in the light of the conversation's previous turn,
by rules over the entities recognised in both (no language model).

A rep asks "宁德时代的热失控方案怎么讲？", then "那比亚迪呢？": the second question names a new
customer and nothing else, so it is the first one about 比亚迪. "它的成本呢？" names nothing:
it asks about cost of what the conversation is about (宁德时代的热失控方案), the way the previous
question asked (怎么讲). "换成储能行业怎么说" swaps the customer for an industry. A question
that names its own customer and topic without a cue (那, 呢, 它, 换成, 这个客户...) starts a
new subject.

What a turn leaves for the next is a ``Reading``: the question spelled out, and its
**subject** (who and what it is about, without the asking: 宁德时代的热失控方案). A swap
changes names in both; an ellipsis keeps the subject and asks something new about it; a new
question sets a new subject. So three turns chain without the aspects piling up.

Entities come from the caller's own view of the graph (``Mention`` with the kinds of the
snapshot): a reading never brings in a name the caller may not see, except what the caller
typed.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from retrieval.query import INTENT_CUES, Intent, Query, detect_intent
from retrieval.retrievers.graph import GraphSnapshot
from retrieval.visibility import Allow, EntityScope


def _words(text: str) -> list[str]:
    return text.split()


CUSTOMER, INDUSTRY = "Customer", "Industry"
WHO = (CUSTOMER, INDUSTRY)  # who a question is about, most specific first
# Kinds that may stand in for one another when a follow-up swaps a name.
SWAP_GROUPS = (
    frozenset({CUSTOMER, INDUSTRY, "Region"}),
    frozenset({"Product", "Term", "Thing"}),
    frozenset({"Competitor"}),
    frozenset({"Role", "Person"}),
)
MAX_CHARS = 500  # as a question may have (retrieval/service.py)
# A question with this much content of its own, and no cue, no name, starts a new subject.
STANDALONE_CHARS = 12

# A follow-up's opening ("那比亚迪呢", "换成储能行业"); a bare 那 is a cue, 那边/那个 are not.
_LEAD = re.compile(
    r"^(?:那如果是|那如果换成|那如果|那要是|那换成|那么|如果换成|如果是|要是换成|要是|"
    r"换成|换到|改成|换个|还有|另外|同样|那(?![边个些里种样]))"
)
_SWAP_VERBS = re.compile(r"换成|换到|改成|如果是|要是")
_TRAIL = re.compile(r"(?:呢|的话|怎么样|咋样)?[？?。！!，,\s]*$")
_PUNCT = "？?。！!，,、；;：:\u3000 "
# Words standing for what the conversation is about, longest first, with what they refer to.
PRONOUNS: tuple[tuple[str, str], ...] = (
    ("这个客户", "who"),
    ("这家客户", "who"),
    ("那个客户", "who"),
    ("这位客户", "who"),
    ("该客户", "who"),
    ("他们家", "who"),
    ("他们", "who"),
    ("他家", "who"),
    ("对方", "who"),
    ("这家", "who"),
    ("这个行业", "industry"),
    ("该行业", "industry"),
    ("这个领域", "industry"),
    ("同行业", "industry"),
    ("这个方案", "subject"),
    ("该方案", "subject"),
    ("这套方案", "subject"),
    ("这个产品", "subject"),
    ("该产品", "subject"),
    ("这个问题", "subject"),
    ("它们", "subject"),
    ("它", "subject"),
    ("这个", "subject"),
)
_ROLES = dict(PRONOUNS)
# 其它 (other) is no pronoun; 这个月 is a time, not a thing.
_PRONOUN = re.compile(
    "|".join(
        ("(?<!其)" if p.startswith("它") else "")
        + re.escape(p)
        + ("(?![月周年季天])" if p == "这个" else "")
        for p, _ in PRONOUNS
    )
)
# Words that carry no content of their own in a follow-up: with nothing else beside its names,
# a follow-up only swaps names ("换成储能行业怎么说").
_FILLER = sorted(
    _words(
        "怎么讲 怎么说 怎么办 怎么弄 怎么聊 如何讲 如何说 如何 怎样 怎么样 咋说 咋讲 咋办 咋样 "
        "说说 讲讲 聊聊 讲 说 聊 情况 行业 领域 板块 客户 那边 这边 方面 公司 的 也 又 还 再 "
        "呢 吗 吧 啊 呀 嘛 该 我 我们 家"
    ),
    key=len,
    reverse=True,
)
# The asking around a subject (how, tell, to whom...), dropped when the subject is taken out.
SCAFFOLD = frozenset(
    _words(
        "如何 怎么 怎样 怎么样 咋 咋样 咋办 怎么办 该 该怎么 应该 应当 要 需要 可以 能 能不能 会 "
        "我 我们 咱 咱们 你 您 向 给 跟 对 对于 解释 介绍 讲 讲讲 讲解 说 说说 说明 回答 回应 "
        "应对 回 聊 聊聊 谈 谈谈 问 请问 请教 想问 问下 一下 下 呢 吗 嘛 啊 吧 呀 哦 么 什么 "
        "哪些 哪个 为什么 是不是 有没有 是否 是 那 那么 它 这个 那个 这 如果 要是 换成 改成 换到 "
        "的话 还有 另外 再 又 也 同样 还 开口 时候 第一次 见面 那边 这边"
    )
)
# A question that asks something of its own (not just "…呢").
_ASKS = re.compile(
    r"什么|哪|吗|多少|多久|多长|多大|多高|几|为什么|为何|怎|如何|是否|有没有|能不能|可不可以|"
    r"是不是|区别|咋|谁|(.)不\1"  # 贵不贵, 行不行
)
# How the previous question asked, carried to a follow-up that does not say.
INTENT_TAILS = {
    Intent.HOWTO: "怎么讲",
    Intent.CASE: "有哪些案例",
    Intent.OBJECTION: "怎么应对",
    Intent.LESSON: "有什么教训",
}
# A follow-up's text that opens a clause of its own: attached after the subject with "，".
_OWN_SUBJECT = re.compile(r"^(?:客户|我们|我|他们|对方|竞品|如果|对手)")
# One that continues the subject's sentence ("有没有类似案例", "嫌贵怎么办"): attached as is.
_PREDICATE = re.compile(
    r"^(?:有|是|能|可以|会|要|需要|该|怎|如何|为什么|为何|哪|多少|几|适合|值得|应该|用|做|"
    r"跟|和|与|在|对|比|相比|嫌|觉得|担心|关注|还|也)"
)


@dataclass(frozen=True)
class Mention:
    """An entity recognised in a text: its id, its kind (``Customer``, ``Term``...) and the
    words it was written with."""

    id: str
    kind: str
    surface: str


@dataclass(frozen=True)
class Reading:
    """A question as read in its conversation."""

    asked: str  # as the rep asked it
    text: str  # spelled out: what is searched and shown; the question itself when standalone
    subject: str  # who and what the conversation is about after this turn, for the next
    followup: bool = False  # read with the previous turn


# Names that only say how a question asks (丢单, 案例 as glossary terms): no topic of their own.
_ASKING_WORDS = frozenset(cue for _, cues in INTENT_CUES for cue in cues)


def mentions_of(query: Query, kinds: Mapping[str, str]) -> list[Mention]:
    """The recognised entities of an analysed question, with the graph's kinds; names that
    are only words of asking (丢单, 复盘) are left out."""
    return [
        Mention(e.id, kinds.get(e.id, ""), e.surface)
        for e in query.entities
        if e.surface not in _ASKING_WORDS
    ]


class FollowUpReader:
    """Reads questions against the previous turn of their conversation.

    Args:
        mentions: the entities a text names, as the caller may see them.
        industry_of: the name of a customer's industry (for 这个行业), as the caller may see it.
    """

    def __init__(
        self,
        mentions: Callable[[str], Sequence[Mention]],
        industry_of: Callable[[str], str | None] | None = None,
    ) -> None:
        self._mentions = mentions
        self._industry_of = industry_of or (lambda _: None)

    def thread(self, questions: Iterable[str]) -> list[Reading]:
        """Each question of a conversation read against the one before (chat clients send the
        whole conversation every time)."""
        readings: list[Reading] = []
        for question in questions:
            readings.append(self.read(question, readings[-1] if readings else None))
        return readings

    def read(self, question: str, previous: Reading | None) -> Reading:
        asked = question.strip()
        if not asked:  # context only (a CRM page's entities): nothing to read
            return Reading(asked, asked, "")
        if previous is None:
            return self.alone(asked)
        reading = self._follow(asked, previous)
        if reading is None or len(reading.text) > MAX_CHARS or not reading.text.strip(_PUNCT):
            return self.alone(asked)
        return reading

    def alone(self, asked: str) -> Reading:
        return Reading(asked, asked, subject_of(asked, self._mentions(asked)))

    def _follow(self, asked: str, previous: Reading) -> Reading | None:
        now = _distinct(self._mentions(asked))
        before = _distinct(self._mentions(previous.text))
        before_ids = {m.id for m in before}
        new = [m for m in now if m.id not in before_ids]
        lead = _LEAD.search(asked)
        core = _TRAIL.sub("", asked[lead.end() if lead else 0 :]).strip(_PUNCT)
        pronoun = _pronoun(core)
        cued = bool(
            lead or pronoun or _SWAP_VERBS.search(asked) or re.search(r"呢[？?。！!\s]*$", asked)
        )
        rest = _rest(core, now)

        new = _as_written(new, now, asked)
        # Only new names (and cue or generic words): the previous question, about them. A
        # topic alone without a cue ("热扩散试验怎么讲") is a new topic, below.
        if new and not rest and (cued or all(m.kind in WHO for m in new)):
            text = _swap(previous.text, before, new)
            subject = _swap(previous.subject, before, new)
            return Reading(asked, text, subject, True)
        new_who = [m for m in new if m.kind in WHO]
        if (new_who and not cued) or (
            detect_intent(asked) is Intent.DEFINITION and now and not pronoun
        ):
            return None  # a new subject, or a term of its own to define
        if new_who:  # "那比亚迪的成本呢": the subject, about the new customer
            subject = _swap(previous.subject, before, new_who)
            own = _without(core, new_who)
            text = _attach(subject, own)
        elif pronoun:  # "它的成本呢", "这个客户关注什么"
            phrase, role = pronoun
            subject = previous.subject
            text = core.replace(phrase, self._referent(role, before, previous), 1)
        elif new and not cued:  # a new topic for the same customer: "BMS预警怎么讲"
            who = _who(before)
            if who is None:
                return None
            text = _attach(who.surface, core)
            subject = subject_of(text, [who, *now])
        elif not now and not cued and len(rest) >= STANDALONE_CHARS:
            return None  # a whole question of its own
        else:  # ellipsis: "成本呢？", "有没有类似案例？"
            subject = previous.subject
            text = _attach(subject, core)
        text = _carried_intent(text, core, previous.text)
        return Reading(asked, _ask_mark(text, asked), subject, True)

    def _referent(self, role: str, before: Sequence[Mention], previous: Reading) -> str:
        if role == "who" and (who := _who(before)) is not None:
            return who.surface
        if role == "industry":
            for m in before:
                if m.kind == INDUSTRY:
                    return m.surface + "行业"
            if (who := _who(before)) is not None and (industry := self._industry_of(who.id)):
                return industry + "行业"
        return previous.subject


def subject_of(text: str, mentions: Sequence[Mention]) -> str:
    """Who and what a question is about: the question without its asking (how, tell, to
    whom, particles): 如何向宁德时代解释热失控防护方案？ → 宁德时代热失控防护方案."""
    import jieba

    surfaces = sorted({m.surface for m in mentions if m.surface}, key=len, reverse=True)
    parts = re.split("(" + "|".join(map(re.escape, surfaces)) + ")", text) if surfaces else [text]
    kept: list[str] = []
    for i, part in enumerate(parts):
        if i % 2:  # a name: kept whole
            kept.append(part)
            continue
        kept += [t for t in jieba.lcut(part) if t.strip(_PUNCT) and t not in SCAFFOLD]
    subject = re.sub("的{2,}", "的", "".join(kept)).strip("的" + _PUNCT)
    return subject or text.strip(_PUNCT)


def _distinct(mentions: Iterable[Mention]) -> list[Mention]:
    """One mention per entity, in order."""
    return list({m.id: m for m in mentions}.values())


def _pronoun(core: str) -> tuple[str, str] | None:
    found = _PRONOUN.search(core)
    return (found.group(), _ROLES[found.group()]) if found else None


def _rest(core: str, mentions: Sequence[Mention]) -> str:
    """What a follow-up says besides its names, cues and generic asking."""
    rest = _SWAP_VERBS.sub("", core)
    for surface in sorted({m.surface for m in mentions}, key=len, reverse=True):
        rest = rest.replace(surface, "")
    rest = _PRONOUN.sub("", rest)
    for word in _FILLER:
        rest = rest.replace(word, "")
    return rest.strip(_PUNCT)


def _who(mentions: Sequence[Mention]) -> Mention | None:
    for kind in WHO:
        for m in mentions:
            if m.kind == kind:
                return m
    return None


def _group(kind: str) -> frozenset[str]:
    return next((g for g in SWAP_GROUPS if kind in g), frozenset({kind}))


def _as_written(new: Sequence[Mention], now: Sequence[Mention], asked: str) -> list[Mention]:
    """New names as the follow-up wrote them: a customer followed by an industry is one name
    (天衡储能 is 天衡); an industry keeps its 行业 (储能行业)."""
    out: list[Mention] = []
    skip: set[str] = set()
    for m in new:
        if m.id in skip:
            continue
        if m.kind == CUSTOMER:
            for other in now:
                if other.kind == INDUSTRY and f"{m.surface}{other.surface}" in asked:
                    skip.add(other.id)
                    m = Mention(m.id, m.kind, m.surface + other.surface)
                    break
        elif m.kind == INDUSTRY and f"{m.surface}行业" in asked and not m.surface.endswith("行业"):
            m = Mention(m.id, m.kind, m.surface + "行业")
        out.append(m)
    return out


def _swap(text: str, before: Sequence[Mention], new: Sequence[Mention]) -> str:
    """``text`` with each new name in place of the earlier name of its kind (or of a kind that
    stands in for it: an industry for a customer); names with no counterpart lead the text."""
    used: set[str] = set()
    leading: list[str] = []
    swapped_surfaces: set[str] = set()
    # A name of several kinds (焊装线: an industry and a term) is swapped last: in a question
    # it is more often the topic than who it is about.
    kinds: dict[str, set[str]] = defaultdict(set)
    for b in before:
        kinds[b.surface].add(b.kind)
    for m in new:
        if m.surface in swapped_surfaces:  # one name of several kinds swaps once
            continue
        present = [b for b in before if b.id not in used and b.surface and b.surface in text]
        present.sort(key=lambda b: len(kinds[b.surface]) > 1)
        target = next(
            (b for b in present if b.kind == m.kind and len(kinds[b.surface]) == 1), None
        ) or next((b for b in present if b.kind in _group(m.kind)), None)
        swapped_surfaces.add(m.surface)
        if target is None:
            leading.append(m.surface)
            continue
        used.add(target.id)
        old = target.surface
        if target.kind == INDUSTRY and f"{old}行业" in text:
            old += "行业"
        text = text.replace(old, m.surface, 1)
    if leading:
        text = _attach("、".join(leading), text)
    return text


def _without(core: str, mentions: Sequence[Mention]) -> str:
    """A follow-up's own words once its new names went into the subject."""
    for m in mentions:
        core = core.replace(f"{m.surface}行业", "").replace(m.surface, "")
    return core.lstrip("的" + _PUNCT)


def _attach(head: str, tail: str) -> str:
    """A subject and what a follow-up asks about it, as one question."""
    tail = tail.strip(_PUNCT)
    if not tail:
        return head
    if _OWN_SUBJECT.match(tail):
        return f"{head}，{tail}"
    if _PREDICATE.match(tail) or tail.startswith("的"):
        return head + tail
    return f"{head}的{tail}"


def _carried_intent(text: str, core: str, previous: str) -> str:
    """A follow-up that does not say how it asks ("它的成本呢") asks as the previous one did."""
    tail = INTENT_TAILS.get(detect_intent(previous))
    if tail is None or detect_intent(core) is not Intent.EXPLAIN or _ASKS.search(core):
        return text
    return re.sub(r"呢?[" + re.escape(_PUNCT) + r"]*$", "", text) + tail


def _ask_mark(text: str, asked: str) -> str:
    body = text.rstrip(_PUNCT)
    return body + "？" if asked.rstrip().endswith(("？", "?", "呢")) else body


def caller_reader(
    understand: Callable[[str], Query], snapshot: GraphSnapshot, allow: Allow | None
) -> FollowUpReader:
    """A reader over the graph as one caller may see it: ``understand`` reads a text as the
    caller may (``SearchService.understand`` with the caller's filters); a customer's industry
    is named only through a relation the caller may see."""
    scope = EntityScope(snapshot, allow) if allow is not None else None

    def mentions(text: str) -> list[Mention]:
        return mentions_of(understand(text), snapshot.kinds)

    def industry_of(entity_id: str) -> str | None:
        for other, name in snapshot.neighbours.get(entity_id, []):
            if snapshot.kinds.get(other) == INDUSTRY and (
                scope is None or scope.relation(entity_id, name, other)
            ):
                return snapshot.names.get(other)
        return None

    return FollowUpReader(mentions, industry_of)
