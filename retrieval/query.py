"""Query understanding: tokens, the entities a question names, and what kind of answer it wants."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from copy import copy
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import TYPE_CHECKING

from kg.dictionary import EntityDictionary, load_into_jieba, normalize
from retrieval.crosslingual import Glossary, translation_terms
from retrieval.tokenize import tokenize

if TYPE_CHECKING:
    from retrieval.visibility import EntityScope


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


_LATIN = re.compile(r"[A-Za-z]")


@dataclass(frozen=True)
class RecognisedEntity:
    id: str
    surface: str  # as written in the question
    key: str = ""  # the dictionary's name or alias it matched (normalised)
    name: str = ""  # the entity's own name (宁德时代 for CATL, 粤能新能源 for Yueneng)


@dataclass(frozen=True)
class Query:
    text: str
    tokens: list[str]
    entities: list[RecognisedEntity]
    intent: Intent
    # The caller's view of the entity layer (retrieval/visibility.py); None sees everything
    # (the CLI, evaluation).
    scope: EntityScope | None = None
    # Chinese terms for its English words (retrieval/crosslingual.py): lexical terms only.
    translations: tuple[str, ...] = ()

    @property
    def expansion(self) -> list[str]:
        """Names of the entities the question names another way (an alias, an English name,
        pinyin), which its own words do not contain: they join its lexical terms and the text
        the dense retriever embeds, so CATL finds 宁德时代 and Yueneng finds 粤能."""
        return list(
            dict.fromkeys(e.name for e in self.entities if e.name and e.name not in self.text)
        )

    @property
    def search_tokens(self) -> list[str]:
        """The lexical terms: the question's own, its expansion's and its translations'."""
        return [
            *self.tokens,
            *(t for name in self.expansion for t in tokenize(name)),
            *(t for word in self.translations for t in translation_terms(word)),
        ]

    @property
    def dense_text(self) -> str:
        """The text the dense retriever embeds: the question, then its expansion."""
        return " ".join([self.text, *self.expansion])

    def scoped(self, scope: EntityScope) -> Query:
        """This query as one caller may read it: only entities it may see, recognised by a
        name or alias it may see."""
        visible = [e for e in self.entities if scope.alias(e.id, e.key or e.surface)]
        return replace(self, entities=visible, scope=scope)


def detect_intent(text: str) -> Intent:
    for intent, cues in INTENT_CUES:
        if any(cue in text for cue in cues):
            return intent
    return Intent.EXPLAIN


class QueryAnalyzer:
    """Reads a question with the graph's vocabulary: names and aliases as written, names of
    customers and competitors written in pinyin in English questions, and, given a glossary and
    the knowledge's term IDF, its English words as the Chinese terms the knowledge uses."""

    def __init__(
        self,
        dictionary: EntityDictionary,
        names: Mapping[str, str] | None = None,
        *,
        glossary: Glossary | None = None,
        idf: Callable[[str], float | None] | None = None,
    ) -> None:
        self._dictionary = dictionary
        self._names = names or {}
        self._glossary = glossary
        self._idf = idf
        load_into_jieba(dictionary)  # so tokens keep 热失控 and 宁德时代 whole

    def warm(self) -> QueryAnalyzer:
        """Build what the first question would otherwise wait for (the dictionary's sound
        index, pinyin's tables); returns itself."""
        self.analyze("宁的时代")
        return self

    def with_vocabulary(self, idf: Callable[[str], float | None]) -> QueryAnalyzer:
        """This analyzer for another index generation of the same entity layer: translations
        chosen by that generation's vocabulary."""
        other = copy(self)
        other._idf = idf
        return other

    def analyze(self, text: str) -> Query:
        entities: dict[str, RecognisedEntity] = {}
        same_length = len(normalize(text)) == len(text)
        written = self._dictionary.find(text)
        for start, end, surface, ids in written:
            shown = text[start:end] if same_length else surface
            for entity_id in ids:
                entities.setdefault(entity_id, self._entity(entity_id, shown, surface))
        for start, end, surface, ids in self._dictionary.find_romanized(text):
            for entity_id in ids:
                entities.setdefault(
                    entity_id, self._entity(entity_id, text[start:end], normalize(surface))
                )
        for start, end, surface, ids in self._dictionary.find_sound_alike(
            text, [(start, end) for start, end, *_ in written] if same_length else ()
        ):
            for entity_id in ids:
                entities.setdefault(entity_id, self._entity(entity_id, text[start:end], surface))
        translations = (
            tuple(self._glossary.translate(text, self._idf))
            if self._glossary and self._idf and _LATIN.search(text)
            else ()
        )
        return Query(
            text,
            tokenize(text),
            list(entities.values()),
            detect_intent(text),
            translations=translations,
        )

    def _entity(self, entity_id: str, shown: str, key: str) -> RecognisedEntity:
        return RecognisedEntity(entity_id, shown, key, self._names.get(entity_id, ""))
