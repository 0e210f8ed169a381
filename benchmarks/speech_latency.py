"""Compute time of a 5-second spoken question for each Whisper backend (warm, one process).

The 5-second clip is q01 (3.2 s) followed by q09, cut to exactly 5.0 s.

    .venv/bin/python benchmarks/speech_latency.py
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from api.settings import Settings
from speech.audio import SAMPLE_RATE, decode
from speech.faster_whisper_backend import FasterWhisperTranscriber
from speech.openai_whisper_backend import OpenAIWhisperTranscriber

ROOT = Path(__file__).resolve().parents[1]
CLIPS = ROOT.parent / "shared" / "eval" / "speech_zh" / "questions"
RUNS = 5


def main() -> None:
    settings = Settings(_env_file=None, home=ROOT / ".skg")
    audio = np.concatenate([decode(CLIPS / "q01.wav"), decode(CLIPS / "q09.wav")])[
        : 5 * SAMPLE_RATE
    ]
    base = settings.models_dir / "whisper-base"
    backends = {
        "faster-whisper int8, beam 5": lambda: FasterWhisperTranscriber(base / "ct2"),
        "faster-whisper int8, beam 1": lambda: FasterWhisperTranscriber(base / "ct2", beam_size=1),
        "openai-whisper fp32": lambda: OpenAIWhisperTranscriber(base / "openai" / "base.pt"),
    }
    print(f"5.0 s question, {RUNS} warm runs each")
    for name, make in backends.items():
        started = time.perf_counter()
        transcriber = make()
        load_s = time.perf_counter() - started
        transcriber.transcribe(audio)  # warm up
        times = [transcriber.transcribe(audio).compute_seconds for _ in range(RUNS)]
        print(
            f"{name:<30} load {load_s:4.1f} s   compute median {np.median(times):.2f} s "
            f"(min {min(times):.2f}, max {max(times):.2f})"
        )


if __name__ == "__main__":
    main()
