"""How fast a spoken question is transcribed, and how well, for each faster-whisper setting:
beam width, threads and temperature fallback; and the whole spoken question answered.

Compute time of a 5-second question (q01 followed by q09, cut to 5.0 s), warm, median of 5;
error rate (CER after the graph's correction) and key-term recall over the 16 spoken sales
questions of data/eval/speech_zh/questions, with the recognizer the API builds (voice
detection, the graph's vocabulary from data/samples, no Neo4j needed).

    .venv/bin/python benchmarks/speech_latency.py [--grid]
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
    args = parser.parse_args()
    settings = Settings()
    audio = np.concatenate([decode(CLIPS / "q01.wav"), decode(CLIPS / "q09.wav")])[
        : 5 * SAMPLE_RATE
    ]
    data = load_beir(ROOT / "data" / "golden", "all")
    _, graph = graph_for_corpus(data, ROOT / "data" / "samples")
    tokens = [tokenize(f"{d['title']}\n{d['text']}") for d in data.corpus.values()]
    model = settings.models_dir / "whisper-base" / "ct2"
    settings_grid = (
        itertools.product((1, 2, 3, 5), (1, 2), (True, False))
        if args.grid
        else [
            (5, 0, True),
            (settings.whisper_beam_size, settings.whisper_threads, settings.whisper_fallback),
        ]
    )
    print("5.0 s question, warm, median of 5; CER and key-term recall over 16 questions")
    print(f"{'beam':>4} {'threads':>7} {'fallback':>8} {'compute s':>9} {'CER':>6} {'keys':>5}")
    for beam, threads, fallback in settings_grid:
        transcriber = FasterWhisperTranscriber(
            model, beam_size=beam, threads=threads, fallback=fallback
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
            f"{beam:>4} {threads or 'auto':>7} {fallback!s:>8} {np.median(times):>9.2f} "
            f"{summary['CER corrected']:>6.3f} {summary['key-term recall corrected']:>5.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
