"""The ``Transcriber`` interface and its result."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from numpy.typing import NDArray

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
    """Turns 16 kHz mono float32 samples into Simplified Chinese text.

    ``deadline`` is a ``time.monotonic()`` instant: past it, the backend stops at its next
    chance (between windows or decoding passes) and raises ``TimeoutError``.
    """

    name: str

    def transcribe(
        self, samples: NDArray[Any], prompt: str = MANDARIN_PROMPT, *, deadline: float | None = None
    ) -> Transcript: ...


def check_deadline(deadline: float | None) -> None:
    """Raise ``TimeoutError`` once ``deadline`` has passed."""
    if deadline is not None and time.monotonic() > deadline:
        raise TimeoutError("transcription budget spent")


class ThreadDeadline:
    """The deadline of the transcription running on this thread, for a check placed inside a
    backend's decoding loop (a model is shared by concurrent requests, each on its thread)."""

    def __init__(self) -> None:
        self._local = threading.local()

    @contextmanager
    def until(self, deadline: float | None) -> Iterator[None]:
        self._local.value = deadline
        try:
            yield
        finally:
            self._local.value = None

    def check(self) -> None:
        check_deadline(getattr(self._local, "value", None))
