import io
import wave

import numpy as np
import pytest

from kg.errors import AudioError
from speech.audio import SAMPLE_RATE, AudioLimits, decode

pytestmark = pytest.mark.unit


def _wav(path, samples: np.ndarray, rate: int, channels: int = 1):
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    if channels == 2:
        pcm = np.repeat(pcm, 2)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return path


def _tone(seconds: float, rate: int) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return 0.3 * np.sin(2 * np.pi * 220 * t)


def test_any_rate_and_channel_count_becomes_16k_mono(tmp_path):
    path = _wav(tmp_path / "a.wav", _tone(1.0, 44_100), 44_100, channels=2)
    samples = decode(path)
    assert samples.dtype == np.float32
    assert abs(samples.size - SAMPLE_RATE) < 200


def test_silence_is_refused(tmp_path):
    with pytest.raises(AudioError, match="静音"):
        decode(_wav(tmp_path / "s.wav", np.zeros(SAMPLE_RATE), SAMPLE_RATE))


def test_corrupt_file_is_refused(tmp_path):
    path = tmp_path / "c.m4a"
    path.write_bytes(b"this is not audio at all" * 100)
    with pytest.raises(AudioError, match="无法解码"):
        decode(path)


def test_empty_too_long_and_too_large_are_refused(tmp_path):
    empty = tmp_path / "e.wav"
    empty.write_bytes(b"")
    with pytest.raises(AudioError, match="为空"):
        decode(empty)
    long = _wav(tmp_path / "l.wav", _tone(3.0, SAMPLE_RATE), SAMPLE_RATE)
    with pytest.raises(AudioError, match="过长"):
        decode(long, AudioLimits(max_seconds=2.0))
    with pytest.raises(AudioError, match="过大"):
        decode(long, AudioLimits(max_bytes=1000))


def test_file_objects_are_accepted(tmp_path):
    path = _wav(tmp_path / "a.wav", _tone(0.5, 8000), 8000)
    assert decode(io.BytesIO(path.read_bytes())).size > 0


@pytest.mark.parametrize("name", ["q01.webm", "q02.m4a", "q03.mp3", "q01.wav"])
def test_formats_phones_and_browsers_send(name):
    from tests.conftest import EVAL_DATA

    samples = decode(EVAL_DATA / "speech_zh" / "questions" / name)
    assert 2.0 < samples.size / SAMPLE_RATE < 10.0


def test_ogg_opus_is_decoded(tmp_path):
    import av

    path = tmp_path / "note.ogg"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libopus", rate=48_000)
        tone = (_tone(1.0, 48_000) * 0.5).astype(np.float32).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(tone, format="flt", layout="mono")
        frame.sample_rate = 48_000
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    assert abs(decode(path).size - SAMPLE_RATE) < 2000
