"""Pinyin-aware correction of a transcript against the sales vocabulary (names, aliases, terms).

Whisper hears 宁德时代 as 您得时代 and 热失控 as 热室控: right sounds, wrong characters. A window
of the transcript is replaced by a vocabulary term of the same length when their toneless
pinyin agree syllable by syllable, allowing the confusions of Mandarin speakers (zh/z, ch/c,
sh/s, n/l, f/h, in/ing, en/eng, an/ang). Ordinary words are protected: a window that is itself
a common word is left alone unless the match is exact and the term is long.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from kg.pinyin import EXACT, loose, similarity, syllables

_CJK = re.compile(r"^[\u4e00-\u9fff]+$")


@dataclass(frozen=True)
class Change:
    """One replacement: what was heard, what it became, where."""

    heard: str
    term: str
    start: int


@dataclass(frozen=True)
class Correction:
    text: str
    changes: list[Change] = field(default_factory=list)


class PinyinCorrector:
    """Replace sound-alike windows of a transcript with vocabulary terms."""

    def __init__(
        self,
        vocabulary: Iterable[str],
        *,
        threshold: float = 0.85,
        is_common_word: Callable[[str], bool] | None = None,
        segment: Callable[[str], Iterable[str]] | None = None,
    ) -> None:
        self._by_key: dict[tuple[int, str], list[str]] = defaultdict(list)
        self._terms: set[str] = set()
        for term in vocabulary:
            term = term.strip()
            if 2 <= len(term) <= 10 and _CJK.match(term) and term not in self._terms:
                self._terms.add(term)
                self._by_key[(len(term), loose(syllables(term)[0]))].append(term)
        self._lengths = sorted({n for n, _ in self._by_key}, reverse=True)
        self._threshold = threshold
        self._is_common = is_common_word or (lambda _: False)
        self._segment = segment

    def __len__(self) -> int:
        return len(self._terms)

    def correct(self, text: str) -> Correction:
        out: list[str] = []
        changes: list[Change] = []
        bounds = self._boundaries(text)
        i = 0
        while i < len(text):
            match = self._best_at(text, i, bounds) if i in bounds else None
            if match is None:
                out.append(text[i])
                i += 1
                continue
            term, length = match
            heard = text[i : i + length]
            if heard != term:
                changes.append(Change(heard, term, i))
            out.append(term)
            i += length
        return Correction("".join(out), changes)

    def _boundaries(self, text: str) -> set[int]:
        """Word boundaries of the transcript; a replacement must start and end on one, so it
        never swallows half of a neighbouring word (如何|向 must not become 河乡)."""
        if self._segment is None:
            return set(range(len(text) + 1))
        bounds, position = {0}, 0
        for word in self._segment(text):
            position += len(word)
            bounds.add(position)
        return bounds

    def _best_at(self, text: str, i: int, bounds: set[int]) -> tuple[str, int] | None:
        for length in self._lengths:
            window = text[i : i + length]
            if len(window) < length or not _CJK.match(window) or i + length not in bounds:
                continue
            if window in self._terms:
                return window, length
            candidates = self._by_key.get((length, loose(syllables(window)[0])), [])
            scored = [(similarity(window, t), t) for t in candidates]
            scored = [(s, t) for s, t in scored if s >= self._threshold]
            if not scored:
                continue
            score, term = max(scored)
            # Two-character words are where ordinary speech lives: only exact sound-alikes of
            # terms, and never over a common word (公式 is not 攻势).
            if length == 2 and (score < EXACT or self._is_common(window)):
                continue
            if self._is_common(window) and score < EXACT:
                continue
            return term, length
        return None
