"""``VoiceDetector`` on Silero VAD v6, the ONNX model that ships inside faster-whisper (no
download), run by onnxruntime on the CPU in a few milliseconds per clip."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from numpy.typing import NDArray

from kg.errors import ModelError
from speech.audio import SAMPLE_RATE
from speech.vad import SpeechSpan

logger = logging.getLogger(__name__)

# Measured on the shared spoken questions, AISHELL clips and synthetic non-speech
# (docs/speech.md): speech frames score 0.97-0.997, pure tones, noise and DTMF at most 0.46 in
# one or two 32 ms frames. A span must also last 250 ms, which no tone came near.
THRESHOLD = 0.5
MIN_SPEECH_MS = 250
MIN_SILENCE_MS = 500
PAD_MS = 400


class SileroVoiceDetector:
    name = "silero-vad-v6"

    def __init__(
        self,
        threshold: float = THRESHOLD,
        min_speech_ms: int = MIN_SPEECH_MS,
        min_silence_ms: int = MIN_SILENCE_MS,
        pad_ms: int = PAD_MS,
    ) -> None:
        try:
            from faster_whisper.vad import VadOptions, get_vad_model
        except ImportError as exc:
            raise ModelError(
                "Voice activity detection needs faster-whisper and onnxruntime; install them "
                "or set SKG_VAD=false."
            ) from exc
        self._options = VadOptions(
            threshold=threshold,
            min_speech_duration_ms=min_speech_ms,
            min_silence_duration_ms=min_silence_ms,
            speech_pad_ms=pad_ms,
        )
        try:
            get_vad_model()  # load the ONNX session now, not on the first question
        except RuntimeError as exc:  # faster-whisper's message when onnxruntime is missing
            raise ModelError(f"Silero VAD cannot be loaded: {exc}") from exc
        logger.info("loaded %s (threshold %.2f)", self.name, threshold)

    def speech_spans(self, samples: NDArray[Any]) -> list[SpeechSpan]:
        from faster_whisper.vad import get_speech_timestamps

        if samples.size == 0:
            return []
        found = get_speech_timestamps(
            np.ascontiguousarray(samples, dtype=np.float32), self._options, SAMPLE_RATE
        )
        return [SpeechSpan(int(s["start"]), int(s["end"])) for s in found]
