"""Query understanding: tokens, the entities a question names, and what kind of answer it wants."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from kg.dictionary import EntityDictionary, load_into_jieba, normalize
from retrieval.tokenize import tokenize


class Intent(StrEnum):
    """A light reading of what the rep wants; it shapes the answer, not the search."""

    DEFINITION = "definition"  # 什么是 X
    HOWTO = "howto"  # 怎么讲 / 如何
    CASE = "case"  # 有没有案例
    OBJECTION = "objection"  # 客户嫌贵 / 质疑
    LESSON = "lesson"  # 为什么丢单 / 教训
    EXPLAIN = "explain"  # anything else: explain the topic


# Checked in order; the first cue found wins.
INTENT_CUES: tuple[tuple[Intent, tuple[str, ...]], ...] = (
    (Intent.OBJECTION, ("嫌贵", "太贵", "质疑", "异议", "顾虑", "不信", "反对", "担心", "压价")),
    (Intent.LESSON, ("教训", "丢单", "复盘", "为什么输", "失败", "踩坑", "避免")),
    (Intent.CASE, ("案例", "有没有类似", "成功经验", "谁做过", "做成过", "标杆")),
    (
        Intent.DEFINITION,
        ("什么是", "是什么", "是啥", "啥意思", "什么意思", "定义", "叫啥", "指什么"),
    ),
    (Intent.HOWTO, ("怎么", "如何", "怎样", "该怎么", "话术", "怎么讲", "怎么说", "应对")),
)


@dataclass(frozen=True)
class RecognisedEntity:
    id: str
    surface: str


@dataclass(frozen=True)
class Query:
    text: str
    tokens: list[str]
    entities: list[RecognisedEntity]
    intent: Intent


def detect_intent(text: str) -> Intent:
    for intent, cues in INTENT_CUES:
        if any(cue in text for cue in cues):
            return intent
    return Intent.EXPLAIN


class QueryAnalyzer:
    """Reads a question with the graph's vocabulary."""

    def __init__(self, dictionary: EntityDictionary) -> None:
        self._dictionary = dictionary
        load_into_jieba(dictionary)  # so tokens keep 热失控 and 宁德时代 whole

    def analyze(self, text: str) -> Query:
        entities: dict[str, RecognisedEntity] = {}
        same_length = len(normalize(text)) == len(text)
        for start, end, surface, ids in self._dictionary.find(text):
            shown = text[start:end] if same_length else surface
            for entity_id in ids:
                entities.setdefault(entity_id, RecognisedEntity(entity_id, shown))
        return Query(text, tokenize(text), list(entities.values()), detect_intent(text))
