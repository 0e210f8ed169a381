"""The recognizer's screening, with a scripted voice detector and a recording transcriber:
no speech never reaches Whisper, long lead-ins are trimmed, and the time budget holds.
The real Silero model is measured in tests/integration/test_voice_hardening.py."""

import threading
import time

import numpy as np
import pytest

from kg.errors import AudioError
from speech.audio import SAMPLE_RATE
from speech.base import MANDARIN_PROMPT, Transcript
from speech.recognizer import Screening, SpeechRecognizer
from speech.vad import SpeechSpan, speech_samples, trim

pytestmark = pytest.mark.unit


class ScriptedDetector:
    name = "scripted"

    def __init__(self, spans: list[SpeechSpan]) -> None:
        self.spans = spans

    def speech_spans(self, samples: np.ndarray) -> list[SpeechSpan]:
        return self.spans


class RecordingTranscriber:
    name = "recording"

    def __init__(self, release: threading.Event | None = None) -> None:
        self.heard: list[int] = []
        self.deadlines: list[float | None] = []
        self._release = release

    def transcribe(
        self, samples: np.ndarray, prompt: str = MANDARIN_PROMPT, *, deadline: float | None = None
    ) -> Transcript:
        self.heard.append(samples.size)
        self.deadlines.append(deadline)
        if self._release is not None:
            self._release.wait(10)
        return Transcript("你好", "你好", "zh", samples.size / SAMPLE_RATE, 0.0)


def seconds(s: float) -> int:
    return int(s * SAMPLE_RATE)


AUDIO = np.zeros(seconds(6), np.float32)


def test_no_speech_is_refused_before_whisper_runs():
    transcriber = RecordingTranscriber()
    recognizer = SpeechRecognizer(transcriber, screening=Screening(vad=ScriptedDetector([])))
    with pytest.raises(AudioError, match="没有检测到说话声音"):
        recognizer.recognize(AUDIO)
    assert transcriber.heard == [] and recognizer.whisper_calls == 0


def test_speech_is_transcribed_and_counted():
    transcriber = RecordingTranscriber()
    detector = ScriptedDetector([SpeechSpan(0, seconds(6))])
    recognizer = SpeechRecognizer(transcriber, screening=Screening(vad=detector))
    recognition = recognizer.recognize(AUDIO)
    assert recognition.text == "你好" and recognition.speech_seconds == pytest.approx(6.0)
    assert recognition.vad_seconds >= 0 and recognizer.whisper_calls == 1


def test_long_lead_in_and_tail_are_trimmed_and_the_sent_length_reported():
    transcriber = RecordingTranscriber()
    spans = [SpeechSpan(seconds(2), seconds(3)), SpeechSpan(seconds(3.5), seconds(4.5))]
    recognizer = SpeechRecognizer(transcriber, screening=Screening(vad=ScriptedDetector(spans)))
    recognition = recognizer.recognize(AUDIO)
    assert transcriber.heard == [seconds(2.5)]  # 2.0-4.5 s, the pause inside kept
    assert recognition.raw.audio_seconds == pytest.approx(6.0)


def test_short_lead_ins_are_left_alone_and_trimming_can_be_off():
    spans = [SpeechSpan(seconds(0.5), seconds(5.5))]
    assert trim(AUDIO, spans).size == AUDIO.size
    transcriber = RecordingTranscriber()
    long_lead = [SpeechSpan(seconds(3), seconds(4))]
    SpeechRecognizer(
        transcriber, screening=Screening(vad=ScriptedDetector(long_lead), trim=False)
    ).recognize(AUDIO)
    assert transcriber.heard == [AUDIO.size]
    assert speech_samples(long_lead) == seconds(1)


def test_without_a_detector_everything_goes_to_whisper():
    transcriber = RecordingTranscriber()
    recognition = SpeechRecognizer(transcriber).recognize(AUDIO)
    assert transcriber.heard == [AUDIO.size] and recognition.speech_seconds is None
    assert transcriber.deadlines == [None]


def test_a_transcription_over_its_budget_is_refused_with_a_clear_error():
    release = threading.Event()
    transcriber = RecordingTranscriber(release)
    recognizer = SpeechRecognizer(transcriber, screening=Screening(transcribe_seconds=0.2))
    started = time.monotonic()
    try:
        with pytest.raises(AudioError, match=r"语音识别超时（超过 0\.2 秒）"):
            recognizer.recognize(AUDIO)
    finally:
        release.set()
    assert transcriber.deadlines[0] == pytest.approx(started + 0.2, abs=1.0)


def test_the_backend_is_told_the_deadline():
    transcriber = RecordingTranscriber()
    recognizer = SpeechRecognizer(transcriber, screening=Screening(transcribe_seconds=30))
    before = time.monotonic()
    recognizer.recognize(AUDIO)
    deadline = transcriber.deadlines[0]
    assert deadline is not None and before + 29 < deadline < time.monotonic() + 31
