"""Speech recognition that knows the sales vocabulary: prompt Whisper with likely terms, then
correct the transcript against the vocabulary by sound (pinyin)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from speech.base import MANDARIN_PROMPT, Transcriber, Transcript
from speech.correction import Change, PinyinCorrector

MAX_PROMPT_CHARS = 180  # Whisper keeps the last 224 tokens of a prompt


def vocabulary_prompt(terms: Sequence[str]) -> str:
    """The Mandarin nudge plus as many likely terms as fit, most important first."""
    prompt = MANDARIN_PROMPT + "可能提到："
    chosen: list[str] = []
    for term in terms:
        if len(prompt) + len("、".join([*chosen, term])) > MAX_PROMPT_CHARS:
            break
        chosen.append(term)
    return prompt + "、".join(chosen) + "。" if chosen else MANDARIN_PROMPT


@dataclass(frozen=True)
class Recognition:
    """The raw transcript (Simplified), the corrected one, and what changed."""

    raw: Transcript
    text: str
    changes: list[Change] = field(default_factory=list)


class SpeechRecognizer:
    def __init__(
        self,
        transcriber: Transcriber,
        corrector: PinyinCorrector | None = None,
        prompt_terms: Sequence[str] = (),
    ) -> None:
        self.transcriber = transcriber
        self._corrector = corrector
        self._prompt = vocabulary_prompt(prompt_terms) if prompt_terms else MANDARIN_PROMPT

    def recognize(self, samples: np.ndarray) -> Recognition:
        raw = self.transcriber.transcribe(samples, self._prompt)
        if self._corrector is None:
            return Recognition(raw, raw.text)
        corrected = self._corrector.correct(raw.text)
        return Recognition(raw, corrected.text, corrected.changes)
