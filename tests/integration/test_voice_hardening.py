"""User audio on the real stack: only real audio containers are decoded (an FFmpeg playlist
never reads the server's files, nor tells whether they exist), and what is not speech is refused
by the real Silero VAD before Whisper runs. Speed figures are in docs/speech.md
(benchmarks/voice_screening.py), not asserted here."""

from __future__ import annotations

import io
import os
import time
import wave

import numpy as np
import pytest
from fastapi.testclient import TestClient

from api import assembly
from api.app import create_app
from api.keys import ApiKeys
from ingest.pipeline import ingest_paths
from kg.errors import AudioError
from retrieval.index.sync import sync_index
from speech.audio import SAMPLE_RATE, decode
from speech.recognizer import Screening, SpeechRecognizer
from speech.silero_vad import SileroVoiceDetector
from tests.conftest import EVAL_DATA, SAMPLES, wipe_graph

pytestmark = pytest.mark.integration

SPEECH = EVAL_DATA / "speech_zh"
QUESTIONS = SPEECH / "questions"
SPOKEN = sorted(QUESTIONS.glob("q*.wav")) + sorted(SPEECH.glob("BAC*.wav"))
NO_SPEECH = "没有检测到说话声音"


def non_speech(seconds: float = 2.7) -> dict[str, np.ndarray]:
    """What a fake or broken microphone sends."""
    rng = np.random.default_rng(7)
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    signals = {f"tone-{f}Hz": 0.3 * np.sin(2 * np.pi * f * t) for f in (200, 440, 1000, 3000)}
    signals["tone-220Hz-loud"] = 0.9 * np.sin(2 * np.pi * 220 * t)
    signals["dtmf"] = 0.2 * (np.sin(2 * np.pi * 770 * t) + np.sin(2 * np.pi * 1336 * t))
    signals["beeps"] = np.where(t % 1.0 < 0.2, 0.5 * np.sin(2 * np.pi * 1000 * t), 0.0)
    signals["white-noise"] = 0.1 * rng.standard_normal(t.size)
    spectrum = np.fft.rfft(rng.standard_normal(t.size))
    spectrum[1:] /= np.sqrt(np.fft.rfftfreq(t.size, 1 / SAMPLE_RATE)[1:])
    spectrum[0] = 0
    pink = np.fft.irfft(spectrum, t.size)
    signals["pink-noise"] = 0.1 * pink / pink.std()
    signals["silence"] = np.zeros(t.size)
    return {name: x.astype(np.float32) for name, x in signals.items()}


def wav_bytes(samples: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return buffer.getvalue()


# -- the real voice detector, on real speech and on what is not speech -------------------------
@pytest.fixture(scope="module")
def detector():
    return SileroVoiceDetector()


def test_the_eval_clips_are_all_here():
    assert len(SPOKEN) == 18


@pytest.mark.parametrize("path", SPOKEN, ids=[p.stem for p in SPOKEN])
def test_every_spoken_question_and_aishell_clip_is_speech(detector, path):
    samples = decode(path)
    spans = detector.speech_spans(samples)
    assert sum(s.end - s.start for s in spans) > 0.6 * samples.size


@pytest.mark.parametrize("name", non_speech().keys())
def test_tones_noise_silence_and_dtmf_are_not_speech(detector, name):
    assert detector.speech_spans(non_speech()[name]) == []


def test_the_transcription_budget_stops_real_whisper(settings):
    recognizer = SpeechRecognizer(
        assembly.load_transcriber(settings), screening=Screening(transcribe_seconds=0.05)
    )
    with pytest.raises(AudioError, match="语音识别超时"):
        recognizer.recognize(decode(QUESTIONS / "q01.wav"))


# -- the API -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def voice_settings(settings):
    # No background refresh: the recognizer the tests look at stays the one that answers.
    return settings.model_copy(update={"index_refresh_seconds": 0.0})


@pytest.fixture(scope="module")
def loaded(store, embedder, voice_settings):
    wipe_graph(voice_settings)
    report = ingest_paths([SAMPLES], store)
    assert report.failures == []
    sync_index(store, embedder, voice_settings.index_path)
    return store


@pytest.fixture(scope="module")
def key(loaded):
    return ApiKeys(loaded).create("语音测试", ["ask"])[1]


@pytest.fixture(scope="module")
def client(loaded, voice_settings):
    with TestClient(create_app(voice_settings), raise_server_exceptions=False) as c:
        yield c


def ask_voice(client, key: str, name: str, data: bytes, mime: str = "audio/wav"):
    return client.post(
        "/v1/ask/voice",
        files={"audio": (name, data, mime)},
        headers={"Authorization": f"Bearer {key}"},
    )


def whisper_calls(client) -> int:
    return client.app.state.services.current.recognizer.whisper_calls


def test_an_ffconcat_upload_reads_no_file_and_tells_nothing_about_paths(client, key):
    existing = os.path.relpath(QUESTIONS / "q01.wav")  # the server's working directory
    assert os.path.isfile(existing)
    bodies = []
    for path in (existing, "recordings/missing.wav"):
        playlist = f"ffconcat version 1.0\nfile {path}\n".encode()
        response = ask_voice(client, key, "question.wav", playlist)
        assert response.status_code == 422, response.text
        body = response.json()
        assert body["code"] == "bad_audio"
        assert "不支持的音频格式" in body["detail"]
        for secret in (path, "q01", "recordings", "/", "No such file", "Errno"):
            assert secret not in response.text.replace("\\/", "")
        bodies.append({k: body[k] for k in ("code", "message", "message_en", "detail")})
    assert bodies[0] == bodies[1]


@pytest.mark.parametrize("name", ["tone-440Hz", "dtmf"])
def test_a_tone_is_refused_as_no_speech_and_whisper_never_runs(client, key, name):
    before = whisper_calls(client)
    started = time.monotonic()
    response = ask_voice(client, key, "mic.wav", wav_bytes(non_speech()[name]))
    elapsed = time.monotonic() - started
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "bad_audio"
    assert NO_SPEECH in response.json()["detail"]
    assert whisper_calls(client) == before
    assert elapsed < 15  # generous: Whisper took 19-49 s on such audio before


def test_a_real_spoken_question_still_gets_its_answer(client, key):
    before = whisper_calls(client)
    response = ask_voice(
        client, key, "q01.webm", (QUESTIONS / "q01.webm").read_bytes(), "audio/webm"
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert "宁德时代" in body["transcript"]["text"]
    assert body["answer"]["citations"]
    assert whisper_calls(client) == before + 1
