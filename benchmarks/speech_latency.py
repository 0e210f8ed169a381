"""How fast a spoken question is transcribed, and how well, for each faster-whisper setting:
beam width, threads and temperature fallback; and the whole spoken question answered.

Compute time of a 5-second question (q01 followed by q09, cut to 5.0 s), warm, median of 5;
error rate (CER after the graph's correction) and key-term recall over the 16 spoken sales
questions of data/eval/speech_zh/questions, with the recognizer the API builds (voice
detection, the graph's vocabulary from data/samples, no Neo4j needed).

    .venv/bin/python benchmarks/speech_latency.py [--grid] [--windows 30 20 15]
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path

import numpy as np

from api import assembly
from api.evaluate import graph_for_corpus
from api.settings import Settings
from retrieval.evaluation.beir import load_beir
from retrieval.tokenize import tokenize
from speech.audio import SAMPLE_RATE, decode
from speech.evaluation import evaluate_speech
from speech.faster_whisper_backend import FasterWhisperTranscriber

ROOT = Path(__file__).resolve().parents[1]
CLIPS = ROOT / "data" / "eval" / "speech_zh" / "questions"
RUNS = 5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--grid", action="store_true", help="every beam, thread and fallback")
    parser.add_argument(
        "--windows",
        type=float,
        nargs="+",
        help="the encoder windows (seconds) to compare, at beams 3 and 5 (docs/speech.md)",
    )
    args = parser.parse_args()
    settings = Settings()
    audio = np.concatenate([decode(CLIPS / "q01.wav"), decode(CLIPS / "q09.wav")])[
        : 5 * SAMPLE_RATE
    ]
    data = load_beir(ROOT / "data" / "golden", "all")
    _, graph = graph_for_corpus(data, ROOT / "data" / "samples")
    tokens = [tokenize(f"{d['title']}\n{d['text']}") for d in data.corpus.values()]
    model = settings.models_dir / "whisper-base" / "ct2"
    configured = (settings.whisper_beam_size, settings.whisper_threads, settings.whisper_fallback)
    if args.grid:
        settings_grid = [(*c, 30.0) for c in itertools.product((1, 2, 3, 5), (1, 2), (True, False))]
    elif args.windows:
        settings_grid = [(b, 0, True, w) for b in (3, 5) for w in args.windows]
    else:
        settings_grid = [(5, 0, True, 30.0), (*configured, settings.whisper_window_s)]
    print("5.0 s question, warm, median of 5; CER and key-term recall over 16 questions")
    print(
        f"{'beam':>4} {'threads':>7} {'fallback':>8} {'window s':>8} {'compute s':>9} "
        f"{'CER':>6} {'keys':>5}"
    )
    for beam, threads, fallback, window in settings_grid:
        transcriber = FasterWhisperTranscriber(
            model, beam_size=beam, threads=threads, fallback=fallback, window_s=window
        )
        recognizer = assembly.graph_aware_recognizer(
            transcriber, graph, tokens, assembly.speech_screening(settings)
        )
        recognizer.recognize(audio)  # warm up
        times = []
        for _ in range(RUNS):
            started = time.perf_counter()
            recognizer.recognize(audio)
            times.append(time.perf_counter() - started)
        summary = evaluate_speech(CLIPS / "questions.tsv", recognizer).summary()
        print(
            f"{beam:>4} {threads or 'auto':>7} {fallback!s:>8} {window:>8.0f} "
            f"{np.median(times):>9.2f} "
            f"{summary['CER corrected']:>6.3f} {summary['key-term recall corrected']:>5.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
