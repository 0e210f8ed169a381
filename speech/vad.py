"""The ``VoiceDetector`` interface: where in 16 kHz mono samples someone is speaking.

The recognizer asks it before Whisper runs, so that silence, tones and noise (a browser's fake
or broken microphone) are refused in milliseconds instead of making Whisper hallucinate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from numpy.typing import NDArray

from speech.audio import SAMPLE_RATE


@dataclass(frozen=True)
class SpeechSpan:
    """Speech from sample ``start`` to sample ``end`` (exclusive), padded at both ends."""

    start: int
    end: int


class VoiceDetector(Protocol):
    """Finds the spans of speech in 16 kHz mono float32 samples; none means no speech."""

    name: str

    def speech_spans(self, samples: NDArray[Any]) -> list[SpeechSpan]: ...


def speech_samples(spans: list[SpeechSpan]) -> int:
    return sum(span.end - span.start for span in spans)


def trim(samples: NDArray[Any], spans: list[SpeechSpan], min_cut_s: float = 1.0) -> NDArray[Any]:
    """Drop the non-speech before the first span and after the last (pauses inside are kept),
    at each end only when it lasts at least ``min_cut_s`` seconds.

    Whisper's output changes when even 16 ms are cut from a clip, for better or worse, so short
    lead-ins are left alone: trimming is for long stretches (a button held before speaking).
    """
    if not spans:
        return samples[:0]
    min_cut = int(min_cut_s * SAMPLE_RATE)
    start = spans[0].start if spans[0].start >= min_cut else 0
    end = spans[-1].end if samples.size - spans[-1].end >= min_cut else samples.size
    return samples[start:end]
