"""The ``Transcriber`` interface and its result."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

# Whisper writes Traditional characters without this nudge (and sometimes with it).
MANDARIN_PROMPT = "以下是普通话的句子。"


@dataclass(frozen=True)
class Transcript:
    """What was said, in Simplified Chinese, and how long it took."""

    text: str
    raw_text: str
    language: str
    audio_seconds: float
    compute_seconds: float


class Transcriber(Protocol):
    """Turns 16 kHz mono float32 samples into Simplified Chinese text."""

    name: str

    def transcribe(self, samples: np.ndarray, prompt: str = MANDARIN_PROMPT) -> Transcript: ...
