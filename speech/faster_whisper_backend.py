"""``Transcriber`` on faster-whisper (CTranslate2, int8 on CPU)."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from kg.errors import ModelError
from speech.audio import SAMPLE_RATE
from speech.base import MANDARIN_PROMPT, ThreadDeadline, Transcript
from speech.text import to_simplified

logger = logging.getLogger(__name__)


class FasterWhisperTranscriber:
    name = "faster-whisper"

    def __init__(
        self,
        model_dir: Path,
        *,
        compute_type: str = "int8",
        threads: int = 0,
        beam_size: int = 5,
        fallback: bool = True,
        window_s: float = 30.0,
    ) -> None:
        """``fallback``: retry a window at higher temperatures when decoding looks poor
        (faster-whisper's default); off, each window is decoded once. ``window_s``: the
        encoder sees at most this much of the 30 seconds Whisper pads a window to, or the
        speech and a second more where that is longer (docs/speech.md)."""
        self._beam_size = beam_size
        self._options: dict[str, Any] = (
            {} if fallback else {"temperature": 0.0, "condition_on_previous_text": False}
        )
        if not (model_dir / "model.bin").exists():
            raise ModelError(
                f"No CTranslate2 Whisper model in {model_dir}. Run `skg models prepare` "
                "or set SKG_WHISPER_MODEL."
            )
        from faster_whisper import WhisperModel

        self._model = WhisperModel(
            str(model_dir), device="cpu", compute_type=compute_type, cpu_threads=threads
        )
        # faster-whisper calls its CTranslate2 model's generate() once per 30-second window and
        # temperature: the only place where a spent budget can stop it.
        self._deadline = ThreadDeadline()
        self._model.model = _StopsAtDeadline(self._model.model, self._deadline)
        if window_s < 30:
            encode = self._model.encode
            frames = round(window_s * SAMPLE_RATE / self._model.feature_extractor.hop_length)
            self._model.encode = lambda features: encode(encoder_window(features, frames))
        logger.info("loaded faster-whisper model %s (%s)", model_dir, compute_type)

    def transcribe(
        self, samples: NDArray[Any], prompt: str = MANDARIN_PROMPT, *, deadline: float | None = None
    ) -> Transcript:
        started = time.perf_counter()
        with self._deadline.until(deadline):
            segments, info = self._model.transcribe(
                samples,
                language="zh",
                initial_prompt=prompt,
                beam_size=self._beam_size,
                without_timestamps=True,  # SalesKG keeps only the text
                **self._options,
            )
            raw = "".join(segment.text for segment in segments)  # decoded lazily, here
        return Transcript(
            text=to_simplified(raw),
            raw_text=raw,
            language=info.language,
            audio_seconds=samples.size / SAMPLE_RATE,
            compute_seconds=time.perf_counter() - started,
        )


def encoder_window(features: NDArray[Any], frames: int) -> NDArray[Any]:
    """A window's Mel features (padded with zeros to 30 s) cut to ``frames``, or to the speech
    and a second more, rounded up to whole seconds, where that is longer.

    The encoder's cost grows with its input: 0.64 s for 30 s on two cores, 0.07 s for 10 s.
    Windows much shorter than 30 s raised the error rate (docs/speech.md).
    """
    columns = np.flatnonzero(np.abs(features).max(axis=-2) > 0)
    content = int(columns[-1]) + 1 if len(columns) else 0
    keep = max(frames, -(-(content + 100) // 100) * 100)
    if keep >= features.shape[-1]:
        return features
    return np.ascontiguousarray(features[..., :keep])


class _StopsAtDeadline:
    """A CTranslate2 Whisper model whose ``generate`` first checks the thread's deadline."""

    def __init__(self, model: Any, deadline: ThreadDeadline) -> None:
        self._model = model
        self._deadline = deadline

    def generate(self, *args: Any, **kwargs: Any) -> Any:
        self._deadline.check()
        return self._model.generate(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)
