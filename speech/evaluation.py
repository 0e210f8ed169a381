"""Speech evaluation: character error rate, key-term recall and compute time per audio second.

Input: a TSV of ``id<TAB>reference<TAB>key|terms`` with each clip beside it as ``<id>.<ext>``.
Texts are compared after removing punctuation and whitespace and converting to Simplified.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import jiwer

from kg.errors import AudioError
from speech.audio import decode
from speech.recognizer import SpeechRecognizer
from speech.text import to_simplified

AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".m4a", ".ogg", ".webm", ".opus")
_PUNCT = re.compile(r"[\s\W_]+", re.UNICODE)


def normalize(text: str) -> str:
    return _PUNCT.sub("", to_simplified(text)).lower()


def edit_distance(a: str, b: str) -> int:
    """Character edits (substitutions, deletions, insertions) that turn ``a`` into ``b``."""
    if not a:  # jiwer refuses an empty reference: every character of ``b`` is an insertion
        return len(b)
    found = jiwer.process_characters(a, b)
    return found.substitutions + found.deletions + found.insertions


def cer(reference: str, hypothesis: str) -> float:
    ref, hyp = normalize(reference), normalize(hypothesis)
    return edit_distance(ref, hyp) / max(1, len(ref))


@dataclass(frozen=True)
class ClipResult:
    id: str
    reference: str
    raw: str
    corrected: str
    key_terms: list[str]
    audio_seconds: float
    compute_seconds: float
    changes: list[tuple[str, str]]

    def key_hits(self, text: str) -> int:
        norm = normalize(text)
        return sum(1 for term in self.key_terms if normalize(term) in norm)


@dataclass(frozen=True)
class SpeechReport:
    clips: list[ClipResult]

    def summary(self) -> dict[str, float]:
        ref_chars = sum(len(normalize(c.reference)) for c in self.clips) or 1
        terms = sum(len(c.key_terms) for c in self.clips) or 1
        audio = sum(c.audio_seconds for c in self.clips) or 1.0
        return {
            "CER raw": sum(
                edit_distance(normalize(c.reference), normalize(c.raw)) for c in self.clips
            )
            / ref_chars,
            "CER corrected": sum(
                edit_distance(normalize(c.reference), normalize(c.corrected)) for c in self.clips
            )
            / ref_chars,
            "key-term recall raw": sum(c.key_hits(c.raw) for c in self.clips) / terms,
            "key-term recall corrected": sum(c.key_hits(c.corrected) for c in self.clips) / terms,
            "compute s per audio s": sum(c.compute_seconds for c in self.clips) / audio,
        }


def read_manifest(tsv: Path) -> list[tuple[str, str, list[str], Path]]:
    rows = []
    with tsv.open(encoding="utf-8") as f:
        for number, row in enumerate(csv.reader(f, delimiter="\t"), start=1):
            if not row or not row[0].strip():
                continue
            if len(row) < 2:
                raise AudioError(f"{tsv} line {number}: expected id<TAB>reference[<TAB>terms]")
            clip_id, reference = row[0].strip(), row[1].strip()
            terms = [t for t in (row[2].split("|") if len(row) > 2 else []) if t.strip()]
            audio = next(
                (
                    tsv.parent / f"{clip_id}{s}"
                    for s in AUDIO_SUFFIXES
                    if (tsv.parent / f"{clip_id}{s}").exists()
                ),
                None,
            )
            if audio is None:
                raise AudioError(f"{tsv} line {number}: no audio file {clip_id}.* beside it")
            rows.append((clip_id, reference, terms, audio))
    return rows


def evaluate_speech(
    tsv: Path, recognizer: SpeechRecognizer, on_clip: Callable[[], None] | None = None
) -> SpeechReport:
    clips = []
    for clip_id, reference, terms, audio in read_manifest(tsv):
        recognition = recognizer.recognize(decode(audio))
        clips.append(
            ClipResult(
                clip_id,
                reference,
                recognition.raw.text,
                recognition.text,
                terms,
                recognition.raw.audio_seconds,
                recognition.raw.compute_seconds,
                [(c.heard, c.term) for c in recognition.changes],
            )
        )
        if on_clip:
            on_clip()
    return SpeechReport(clips)
