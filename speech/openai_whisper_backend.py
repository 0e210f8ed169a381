"""``Transcriber`` on openai-whisper (PyTorch), from a converted ``.pt`` checkpoint."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from numpy.typing import NDArray

from kg.errors import ModelError
from speech.audio import SAMPLE_RATE
from speech.base import MANDARIN_PROMPT, ThreadDeadline, Transcript
from speech.text import to_simplified

logger = logging.getLogger(__name__)


class OpenAIWhisperTranscriber:
    name = "openai-whisper"

    def __init__(self, checkpoint: Path) -> None:
        if not checkpoint.is_file():
            raise ModelError(
                f"No openai-whisper checkpoint at {checkpoint}. Run `skg models prepare` "
                "or set SKG_WHISPER_MODEL to a .pt file."
            )
        import whisper

        self._model = whisper.load_model(str(checkpoint), device="cpu")
        # transcribe() calls model.decode once per 30-second window and temperature: the only
        # place where a spent budget can stop it.
        self._deadline = ThreadDeadline()
        decode = self._model.decode

        def decode_within_budget(*args: Any, **kwargs: Any) -> Any:
            self._deadline.check()
            return decode(*args, **kwargs)

        self._model.decode = decode_within_budget
        logger.info("loaded openai-whisper checkpoint %s", checkpoint)

    def transcribe(
        self, samples: NDArray[Any], prompt: str = MANDARIN_PROMPT, *, deadline: float | None = None
    ) -> Transcript:
        started = time.perf_counter()
        with self._deadline.until(deadline):
            result = self._model.transcribe(
                samples, language="zh", fp16=False, initial_prompt=prompt
            )
        raw = str(result["text"])
        return Transcript(
            text=to_simplified(raw),
            raw_text=raw,
            language=str(result.get("language", "zh")),
            audio_seconds=samples.size / SAMPLE_RATE,
            compute_seconds=time.perf_counter() - started,
        )
