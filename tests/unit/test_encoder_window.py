"""The Whisper encoder's window: cut to the speech and a second more, at least the set length."""

from __future__ import annotations

import numpy as np
import pytest

from speech.faster_whisper_backend import encoder_window

pytestmark = pytest.mark.unit


def _padded(content: int) -> np.ndarray:
    features = np.zeros((80, 3000), dtype=np.float32)
    features[:, :content] = np.random.default_rng(content).uniform(-1, 1, (80, content))
    return features


def test_short_speech_gets_the_set_window() -> None:
    features = _padded(501)
    cut = encoder_window(features, 2000)
    assert cut.shape == (80, 2000)
    assert np.array_equal(cut, features[:, :2000]) and cut.flags.c_contiguous


def test_longer_speech_keeps_a_second_after_it() -> None:
    assert encoder_window(_padded(2450), 2000).shape == (80, 2600)
    assert encoder_window(_padded(2950), 2000).shape == (80, 3000)


def test_a_full_window_or_silence_is_left_alone() -> None:
    full = _padded(3000)
    assert encoder_window(full, 2000) is full
    assert encoder_window(np.zeros((80, 3000), dtype=np.float32), 1000).shape == (80, 1000)
    assert encoder_window(full, 3000) is full
