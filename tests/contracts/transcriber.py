"""The ``Transcriber`` contract: what the speech recognizer relies on.

A test class provides a ``transcriber`` fixture; ``clip`` is a Mandarin question from the
repository's speech set (16 kHz mono float32) and ``reference`` what it says.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from speech.audio import SAMPLE_RATE
from speech.base import Transcript
from speech.evaluation import cer
from speech.text import to_simplified


class TranscriberContract:
    """Cases every ``Transcriber`` passes."""

    def test_it_has_a_name(self, transcriber):
        assert isinstance(transcriber.name, str) and transcriber.name

    def test_a_question_becomes_simplified_mandarin_text(self, transcriber, clip, reference):
        result = transcriber.transcribe(clip)
        assert isinstance(result, Transcript)
        assert result.text and result.text == to_simplified(result.text)
        assert result.language == "zh"
        assert result.audio_seconds == pytest.approx(clip.size / SAMPLE_RATE)
        assert result.compute_seconds >= 0.0
        assert cer(reference, result.text) < 0.5, result.text

    def test_a_passed_deadline_stops_it(self, transcriber, clip):
        with pytest.raises(TimeoutError):
            transcriber.transcribe(clip, deadline=time.monotonic() - 1.0)

    def test_it_takes_the_samples_as_given(self, transcriber, clip):
        copy = clip.copy()
        transcriber.transcribe(clip)
        assert np.array_equal(clip, copy), "the caller's samples are not changed"
