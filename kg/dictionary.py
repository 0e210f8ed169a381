"""The graph's vocabulary: every entity's names and aliases, for linking text to entities.

Ingest links atoms with it; retrieval recognises entities in questions with it.

The same dictionary drives an Aho-Corasick automaton (leftmost-longest matching, so 宁德时代 wins
over 宁德) and jieba's user dictionary (so the tokenizer keeps 热失控 and 宁德时代 whole). Words
that look like names but are in no dictionary are counted as candidates for curators.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence

import ahocorasick

from kg.models import DictionaryEntry
from kg.pinyin import EXACT, agreement, loose, reading, syllables

MIN_SURFACE_CHARS = 2
# Part of the fingerprint: change it whenever how ``find`` matches changes (the capital-only
# short acronyms of 2026-12-02), so that ingest relinks documents linked by the old rules.
LINK_RULES = "2026-12-02"
_ASCII = re.compile(r"^[\x00-\x7f]+$")
_ALNUM = re.compile(r"[0-9a-z]")
_ACRONYM = re.compile(r"^[A-Z][A-Z0-9\-+]{1,11}$")
_CJK_WORD = re.compile(r"^[\u4e00-\u9fff]{3,8}$")  # two-character HMM words are mostly noise


# Kinds whose Chinese names an English question writes in pinyin (Yueneng, Kangze).
ROMANIZED_KINDS = {"Customer", "Competitor"}
MIN_PINYIN_CHARS = 4
_CJK_NAME = re.compile(r"^[\u4e00-\u9fff]{2,}$")
# Sound-alikes (宁的时代 for 宁德时代): surfaces of this many characters are matched by sound;
# mean per-syllable agreement (1 the same toneless syllable, 0.75 a known confusion, as the
# speech corrector) of at least SOUND_MATCH, and two-character ones only by identical syllables.
SOUND_CHARS = (2, 10)
SOUND_MATCH = 0.85
# A Latin word; an apostrophe between letters joins pinyin syllables (Bo'an), a possessive 's
# is left out (Weina's).
_LATIN_WORD = re.compile(r"[A-Za-z]+(?:'(?!s\b)[A-Za-z]+)*")
# Short English words that are also acronyms in a glossary (TO for 流片, IT, AS): matched only as
# written in capitals, so "what should I say to the engineer" does not name 流片.
_SHORT_ENGLISH = """am an as at be by do go he if in is it me my no of ok on or so to up us we all
and any are but can did for get has how its may new not now one our out per the use was who why
you"""
_ENGLISH_WORDS = frozenset(_SHORT_ENGLISH.split())


def _romanize(surface: str) -> str:
    from pypinyin import lazy_pinyin

    return "".join(lazy_pinyin(surface)).lower()


def normalize(text: str) -> str:
    """Full-width to half-width (NFKC) and lower case, so CATL = ＣＡＴＬ = catl."""
    return unicodedata.normalize("NFKC", text).lower()


class EntityDictionary:
    """Surface forms (names and aliases) of every entity, matched in one pass over a text."""

    def __init__(self, entries: Iterable[DictionaryEntry]) -> None:
        self._surfaces: dict[str, set[str]] = defaultdict(set)
        self._romanizable: list[tuple[str, str]] = []  # (Chinese surface, entity id)
        short_names: dict[str, set[str]] = {}
        for entry in entries:
            if entry.kind in ROMANIZED_KINDS:
                self._romanizable += [
                    (s, entry.id) for s in (entry.name, *entry.aliases) if _CJK_NAME.match(s)
                ]
                if _CJK_NAME.match(entry.name) and len(entry.name) > 2:
                    # A company is called by its first two characters (微纳 for 微纳光刻材料).
                    short_names.setdefault(entry.name[:2], set()).add(entry.id)
            for surface in (entry.name, *entry.aliases):
                key = normalize(surface.strip())
                if len(key) >= MIN_SURFACE_CHARS:
                    self._surfaces[key].add(entry.id)
        self._romanizable += [
            (short, next(iter(ids))) for short, ids in short_names.items() if len(ids) == 1
        ]
        self._automaton = ahocorasick.Automaton()
        for key, ids in self._surfaces.items():
            self._automaton.add_word(key, (key, tuple(sorted(ids))))
        if self._surfaces:
            self._automaton.make_automaton()
        digest = hashlib.sha256(f"rules {LINK_RULES}\n".encode())
        for key in sorted(self._surfaces):
            digest.update(f"{key}\x1f{','.join(sorted(self._surfaces[key]))}\n".encode())
        self.fingerprint = digest.hexdigest()
        self._pinyin: dict[str, set[tuple[str, str]]] | None = None  # built on first use
        self._sounds: dict[str, list[tuple[str, tuple[str, ...]]]] | None = None

    def __len__(self) -> int:
        return len(self._surfaces)

    def __contains__(self, surface: str) -> bool:
        return normalize(surface) in self._surfaces

    def find(self, text: str) -> list[tuple[int, int, str, tuple[str, ...]]]:
        """Non-overlapping leftmost-longest matches: (start, end, surface, entity ids).

        ASCII surfaces must stand alone (``TR`` does not match inside ``CTRL``).
        """
        if not self._surfaces:
            return []
        norm = normalize(text)
        found = []
        for end, (surface, ids) in self._automaton.iter_long(norm):
            start = end - len(surface) + 1
            if _ASCII.match(surface) and _ALNUM.search(surface[0] + surface[-1]):
                before = norm[start - 1] if start > 0 else " "
                after = norm[end + 1] if end + 1 < len(norm) else " "
                if _ALNUM.match(before) or _ALNUM.match(after):
                    continue
                if surface in _ENGLISH_WORDS and not text[start : end + 1].isupper():
                    continue  # the English word, not the acronym
            found.append((start, end + 1, surface, ids))
        return found

    def find_romanized(self, text: str) -> list[tuple[int, int, str, tuple[str, ...]]]:
        """Names written in pinyin in an English question: ``Yueneng`` for 粤能, ``Anhe's``
        for 安和 (capitalised words, alone or two or three together, of customers and
        competitors); (start, end, the Chinese surface, entity ids)."""
        if self._pinyin is None:
            self._pinyin = defaultdict(set)
            for surface, entity_id in self._romanizable:
                self._pinyin[_romanize(surface)].add((surface, entity_id))
        words = [m for m in _LATIN_WORD.finditer(text)]
        found = []
        i = 0
        while i < len(words):
            for n in (3, 2, 1):
                group = words[i : i + n]
                if len(group) < n or not all(w.group()[0].isupper() for w in group):
                    continue
                key = "".join(w.group().lower().replace("'", "") for w in group)
                if len(key) >= MIN_PINYIN_CHARS and key in self._pinyin:
                    hits = sorted(self._pinyin[key])
                    found.append(
                        (group[0].start(), group[-1].end(), hits[0][0], tuple(i for _, i in hits))
                    )
                    i += n
                    break
            else:
                i += 1
        return found

    def find_sound_alike(
        self, text: str, taken: Iterable[tuple[int, int]] = ()
    ) -> list[tuple[int, int, str, tuple[str, ...]]]:
        """Names and terms typed with other characters of the same sound, as a pinyin input
        method's wrong pick or a rep writing by ear gives them: 宁的时代 for 宁德时代, 热失空 for
        热失控, 精川能源 for 晶川能源; (start, end, the surface meant, entity ids).

        A window sounds like a surface when each of its characters is the surface's character
        there or has a usual reading that agrees with the surface's syllable, exactly or by a
        known confusion (kg/pinyin.py), with mean agreement at least SOUND_MATCH; two-character
        windows must agree exactly. The window
        must be whole words of the question (jieba's cut), not overlap ``taken`` spans (names
        found as written), and not be a word itself (电池厂 is not 电池舱, 公式 is not 攻势).
        Leftmost-longest, without overlaps.
        """
        sounds = self._sound_index()
        covered = {i for start, end in taken for i in range(start, end)}
        heard = [reading(char) for char in text]
        loosely = [loose(h) if h else "" for h in heard]
        bounds: set[int] | None = None  # jieba's cut, only once a window sounds like a name
        found: list[tuple[int, int, str, tuple[str, ...]]] = []
        i = 0
        while i < len(text):
            alike = [
                surface
                for key in ((loosely[i], text[i]) if heard[i] else ())
                for surface, said in sounds.get(key, ())
                if _sounds_like(text, i, heard, loosely, surface, said)
                and covered.isdisjoint(range(i, i + len(surface)))
            ]
            if alike:
                bounds = bounds or _word_bounds(text)
                alike = [
                    s
                    for s in alike
                    if i in bounds and i + len(s) in bounds and not _is_word(text[i : i + len(s)])
                ]
            if alike:
                surface = max(alike, key=len)
                found.append((i, i + len(surface), surface, tuple(sorted(self._surfaces[surface]))))
                i += len(surface)
            else:
                i += 1
        return found

    def _sound_index(self) -> dict[str, list[tuple[str, tuple[str, ...]]]]:
        """Chinese surfaces with their syllables, keyed by the loose first syllable and by the
        first character (a window's first character finds them by its sound or as itself)."""
        if self._sounds is None:
            self._sounds = defaultdict(list)
            for key in self._surfaces:
                if _CJK_NAME.match(key) and SOUND_CHARS[0] <= len(key) <= SOUND_CHARS[1]:
                    said = syllables(key)
                    if len(said) == len(key):
                        self._sounds[loose(said[0])].append((key, said))
                        self._sounds[key[0]].append((key, said))
        return self._sounds

    def entity_ids(self, text: str) -> list[str]:
        """Ids of the entities a text mentions, in order of first mention."""
        seen: dict[str, None] = {}
        for _, _, _, ids in self.find(text):
            for entity_id in ids:
                seen.setdefault(entity_id, None)
        return list(seen)

    def surfaces(self) -> list[str]:
        return list(self._surfaces)


def _sounds_like(
    text: str,
    i: int,
    heard: Sequence[str],
    loosely: Sequence[str],
    surface: str,
    said: Sequence[str],
) -> bool:
    """Whether the window of ``text`` at ``i`` sounds like ``surface`` without being it."""
    end = i + len(surface)
    if end > len(text) or (text[i + 1] != surface[1] and loosely[i + 1] != loose(said[1])):
        return False  # the second character settles most candidates at once
    window = text[i:end]
    if window == surface:
        return False
    # A character written as in the surface agrees whatever its usual reading (调 in 调适).
    as_heard = [
        meant if char == written else usual
        for char, written, usual, meant in zip(window, surface, heard[i:end], said, strict=True)
    ]
    score = agreement(as_heard, said)
    return score >= SOUND_MATCH and (len(surface) > 2 or score == EXACT)


def _word_bounds(text: str) -> set[int]:
    import jieba

    bounds, position = {0}, 0
    for word in jieba.cut(text, HMM=False):
        position += len(word)
        bounds.add(position)
    return bounds


def _is_word(window: str) -> bool:
    import jieba

    frequency: int = jieba.dt.FREQ.get(window, 0)  # its table holds every prefix too, at 0
    return frequency > 0


def load_into_jieba(dictionary: EntityDictionary) -> None:
    """Teach jieba every name and alias so they stay whole tokens."""
    import jieba

    for surface in dictionary.surfaces():
        # add_word adds the frequency to jieba's total every time, even for a word it has:
        # reloading the dictionary (each index swap) would shift how everything is cut.
        if not _ASCII.match(surface) and jieba.dt.FREQ.get(surface) != 2000:
            jieba.add_word(surface, freq=2000, tag="nz")


def unknown_candidates(
    texts: Sequence[str], dictionary: EntityDictionary, *, min_count: int = 3, top: int = 50
) -> list[tuple[str, int, list[str]]]:
    """Name-like words in several texts that no entity carries: (word, texts, examples).

    Name-like: an acronym such as ``CTP`` or ``LFP``, or a Chinese word that jieba found only
    through its HMM (it is in neither jieba's dictionary nor ours), such as a product name.
    """
    import jieba

    known = jieba.dt.FREQ
    counts: Counter[str] = Counter()
    examples: dict[str, list[str]] = defaultdict(list)
    for text in texts:
        words = set()
        for token in jieba.cut(text):
            word = token.strip()
            if _ACRONYM.match(word) or (_CJK_WORD.match(word) and word not in known):
                words.add(word)
        for word in words:
            if word in dictionary:
                continue
            counts[word] += 1
            if len(examples[word]) < 3:
                examples[word].append(_context(text, word))
    return [(w, c, examples[w]) for w, c in counts.most_common() if c >= min_count][:top]


def _context(text: str, word: str, width: int = 20) -> str:
    body_start = text.find("】") + 1 if text.startswith("【") else 0
    at = text.find(word, body_start)
    at = at if at >= 0 else text.find(word)
    return text[max(0, at - width) : at + len(word) + width].replace("\n", " ")
