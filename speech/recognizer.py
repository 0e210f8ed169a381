"""Speech recognition that knows the sales vocabulary: refuse audio without speech, prompt Whisper
with likely terms, then correct the transcript against the vocabulary by sound (pinyin)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from numpy.typing import NDArray

from kg.errors import AudioError
from speech.audio import SAMPLE_RATE
from speech.base import MANDARIN_PROMPT, Transcriber, Transcript
from speech.correction import Change, PinyinCorrector
from speech.vad import VoiceDetector, speech_samples, trim

logger = logging.getLogger(__name__)

MAX_PROMPT_CHARS = 180  # Whisper keeps the last 224 tokens of a prompt
NO_SPEECH = (
    "没有检测到说话声音，请对着麦克风重新说一遍 (no speech detected; record the question again)"
)


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
class Screening:
    """What guards Whisper: a voice detector that refuses audio without speech (and trims the
    non-speech before and after it), and a wall-clock budget for one transcription."""

    vad: VoiceDetector | None = None
    trim: bool = True
    transcribe_seconds: float | None = None


NO_SCREENING = Screening()


@dataclass(frozen=True)
class Recognition:
    """The raw transcript (Simplified), the corrected one, and what changed.

    ``vad_seconds`` is the time voice detection took and ``speech_seconds`` how much speech it
    found (None without a detector)."""

    raw: Transcript
    text: str
    changes: list[Change] = field(default_factory=list)
    vad_seconds: float = 0.0
    speech_seconds: float | None = None


class SpeechRecognizer:
    def __init__(
        self,
        transcriber: Transcriber,
        corrector: PinyinCorrector | None = None,
        prompt_terms: Sequence[str] = (),
        screening: Screening = NO_SCREENING,
    ) -> None:
        self.transcriber = transcriber
        self._corrector = corrector
        self._prompt = vocabulary_prompt(prompt_terms) if prompt_terms else MANDARIN_PROMPT
        self._screening = screening
        self._calls_lock = threading.Lock()
        self._whisper_calls = 0

    @property
    def whisper_calls(self) -> int:
        """How many times this recognizer has run Whisper (refused audio does not count)."""
        return self._whisper_calls

    def recognize(self, samples: NDArray[Any]) -> Recognition:
        """Raises:
        AudioError: no speech in the audio, or the transcription budget was spent."""
        vad_seconds, speech_seconds = 0.0, None
        audio = samples
        if self._screening.vad is not None:
            started = time.perf_counter()
            spans = self._screening.vad.speech_spans(samples)
            vad_seconds = time.perf_counter() - started
            speech_seconds = speech_samples(spans) / SAMPLE_RATE
            if not spans:
                logger.info(
                    "no speech in %.1f s of audio (VAD %.3f s)",
                    samples.size / SAMPLE_RATE,
                    vad_seconds,
                )
                raise AudioError(NO_SPEECH)
            if self._screening.trim:
                audio = trim(samples, spans)
        raw = self._transcribe(audio)
        # Report the length of what was sent, not of what Whisper was given after trimming.
        raw = replace(raw, audio_seconds=samples.size / SAMPLE_RATE)
        if self._corrector is None:
            return Recognition(raw, raw.text, [], vad_seconds, speech_seconds)
        corrected = self._corrector.correct(raw.text)
        return Recognition(raw, corrected.text, corrected.changes, vad_seconds, speech_seconds)

    def _transcribe(self, samples: NDArray[Any]) -> Transcript:
        with self._calls_lock:
            self._whisper_calls += 1
        budget = self._screening.transcribe_seconds
        if budget is None:
            return self.transcriber.transcribe(samples, self._prompt)
        deadline = time.monotonic() + budget
        # Whisper cannot be interrupted inside a decoding pass: the caller gets its answer at
        # the deadline, and the worker stops before its next pass (a 30-second window at one
        # temperature), where the backend checks the same deadline.
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="whisper")
        future = pool.submit(self.transcriber.transcribe, samples, self._prompt, deadline=deadline)
        pool.shutdown(wait=False)
        try:
            return future.result(timeout=max(0.0, deadline - time.monotonic()))
        except TimeoutError:
            logger.warning(
                "transcription of %.1f s of audio passed its %.0f s budget",
                samples.size / SAMPLE_RATE,
                budget,
            )
            raise AudioError(
                f"语音识别超时（超过 {budget:g} 秒），请缩短录音后重试 "
                f"(transcription took longer than {budget:g} s; send a shorter recording)"
            ) from None
