"""How Chinese sounds: toneless pinyin and the confusions of Mandarin speakers.

Shared by the speech corrector (a transcript's 您得时代 is 宁德时代) and the entity dictionary
(a typed 宁的时代 is 宁德时代). Two syllables agree exactly when their toneless pinyin is the
same, loosely when they differ only by a known confusion (zh/z, ch/c, sh/s, n/l, f/h, r/l,
in/ing, en/eng, an/ang, ian/iang, uan/uang).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

INITIALS = (
    "zh",
    "ch",
    "sh",
    "b",
    "p",
    "m",
    "f",
    "d",
    "t",
    "n",
    "l",
    "g",
    "k",
    "h",
    "j",
    "q",
    "x",
    "r",
    "z",
    "c",
    "s",
    "y",
    "w",
)
FUZZY_INITIALS = {"zh": "z", "ch": "c", "sh": "s", "l": "n", "h": "f", "r": "l"}
FUZZY_FINALS = {"ang": "an", "eng": "en", "ing": "in", "iang": "ian", "uang": "uan"}
EXACT, FUZZY = 1.0, 0.75


@lru_cache(maxsize=65536)
def syllables(text: str) -> tuple[str, ...]:
    """Toneless pinyin of a text, read in context (one syllable per Chinese character)."""
    from pypinyin import lazy_pinyin  # its phrase tables take a second to load: only when used

    return tuple(lazy_pinyin(text))


@lru_cache(maxsize=32768)
def reading(char: str) -> str:
    """The usual toneless reading of one character on its own (说: shuo, not yue), "" for a
    non-Chinese one."""
    if not "\u4e00" <= char <= "\u9fff":
        return ""
    return syllables(char)[0]


def _split(syllable: str) -> tuple[str, str]:
    for initial in INITIALS:
        if syllable.startswith(initial):
            return initial, syllable[len(initial) :]
    return "", syllable


@lru_cache(maxsize=4096)
def loose(syllable: str) -> str:
    """The syllable with every known confusion folded (zhang and zan are both zan)."""
    initial, final = _split(syllable)
    return FUZZY_INITIALS.get(initial, initial) + FUZZY_FINALS.get(final, final)


def agreement(a: Sequence[str], b: Sequence[str]) -> float:
    """Mean per-syllable agreement of two syllable sequences: 1 for the same syllable, 0.75
    for a known confusion, and 0 when any syllable is unrelated or the lengths differ."""
    if len(a) != len(b) or not a:
        return 0.0
    total = 0.0
    for x, y in zip(a, b, strict=True):
        if x == y:
            total += EXACT
        elif loose(x) == loose(y):
            total += FUZZY
        else:
            return 0.0  # one unrelated syllable and it is another word
    return total / len(a)


def similarity(heard: str, term: str) -> float:
    """``agreement`` of two texts' syllables."""
    return agreement(syllables(heard), syllables(term))
