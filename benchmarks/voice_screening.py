"""Voice screening, measured: what voice activity detection costs per clip, how fast non-speech
is refused, and what it does to the error rate (docs/speech.md, "Screening").

    .venv/bin/python benchmarks/voice_screening.py [--backend openai-whisper] [--no-cer]

Prints decode and VAD time per clip, the verdict and time for synthetic non-speech (tones,
noise, silence, DTMF) sent through the recognizer with the default screening, and the CER of
the spoken questions and the AISHELL clips without and with screening. ``--padded`` adds 2 s
of silence with faint noise before and after each question, where trimming applies.
"""

from __future__ import annotations

import argparse
import io
import shutil
import statistics
import tempfile
import time
import wave
from pathlib import Path

import numpy as np

from api import assembly
from api.evaluate import graph_for_corpus
from api.settings import Settings
from kg.errors import AudioError
from retrieval.evaluation.beir import load_beir
from retrieval.tokenize import tokenize
from speech.audio import SAMPLE_RATE, decode
from speech.evaluation import evaluate_speech, read_manifest
from speech.recognizer import NO_SCREENING, Screening, SpeechRecognizer

ROOT = Path(__file__).resolve().parents[1]
EVAL = next(
    p
    for p in (ROOT / "data" / "eval" / "speech_zh", ROOT.parent / "shared" / "eval" / "speech_zh")
    if p.is_dir()
)


def non_speech(seconds: float = 2.7) -> dict[str, np.ndarray]:
    """What a fake or broken microphone sends."""
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    signals = {f"tone {f} Hz": 0.3 * np.sin(2 * np.pi * f * t) for f in (200, 440, 1000, 3000)}
    signals["DTMF 770+1336 Hz"] = 0.2 * (np.sin(2 * np.pi * 770 * t) + np.sin(2 * np.pi * 1336 * t))
    signals["beeps 1 kHz"] = np.where(t % 1.0 < 0.2, 0.5 * np.sin(2 * np.pi * 1000 * t), 0.0)
    white = rng.standard_normal(t.size)
    spectrum = np.fft.rfft(rng.standard_normal(t.size))
    spectrum[1:] /= np.sqrt(np.fft.rfftfreq(t.size, 1 / SAMPLE_RATE)[1:])
    spectrum[0] = 0
    pink = np.fft.irfft(spectrum, t.size)
    signals["white noise"] = 0.1 * white / white.std()
    signals["pink noise"] = 0.1 * pink / pink.std()
    signals["near silence"] = 0.002 * rng.standard_normal(t.size)
    return {name: x.astype(np.float32) for name, x in signals.items()}


def clips() -> list[Path]:
    return sorted((EVAL / "questions").glob("q*.wav")) + sorted(EVAL.glob("BAC*.wav"))


def time_decode_and_vad(screening: Screening, runs: int = 5) -> None:
    assert screening.vad is not None
    print(f"\nDecode and VAD per clip ({screening.vad.name}), median of {runs} runs, ms")
    vad_ms, per_audio_s = [], []
    extra = (EVAL / "questions" / n for n in ("q01.webm", "q02.m4a", "q03.mp3"))
    for path in [*clips(), *extra]:
        decode_times, vad_times = [], []
        for _ in range(runs):
            started = time.perf_counter()
            samples = decode(path)
            decode_times.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            spans = screening.vad.speech_spans(samples)
            vad_times.append((time.perf_counter() - started) * 1000)
        seconds = samples.size / SAMPLE_RATE
        ms = statistics.median(vad_times)
        vad_ms.append(ms)
        per_audio_s.append(ms / seconds)
        speech = sum(s.end - s.start for s in spans) / SAMPLE_RATE
        print(
            f"  {path.name:<22} {seconds:4.1f} s audio  decode "
            f"{statistics.median(decode_times):5.1f}  VAD {ms:5.1f}  speech {speech:4.1f} s"
        )
    print(
        f"  VAD median {statistics.median(vad_ms):.1f} ms per clip (max {max(vad_ms):.1f}), "
        f"{statistics.median(per_audio_s):.2f} ms per audio second"
    )


def time_refusals(recognizer: SpeechRecognizer, runs: int = 5) -> None:
    print(f"\nNon-speech as WAV, decoded and recognized (2.7 s each), median of {runs} runs")
    for name, signal in non_speech().items():
        data = _wav_bytes(signal)
        calls = recognizer.whisper_calls
        verdicts, times = set(), []
        for _ in range(runs):
            started = time.perf_counter()
            try:
                recognizer.recognize(decode(io.BytesIO(data)))
                verdicts.add("ACCEPTED")
            except AudioError:
                verdicts.add("refused")
            times.append((time.perf_counter() - started) * 1000)
        whisper = "Whisper ran" if recognizer.whisper_calls > calls else "Whisper not run"
        print(
            f"  {name:<18} {'/'.join(sorted(verdicts)):<8} in "
            f"{statistics.median(times):6.1f} ms  ({whisper})"
        )


def cer(recognizer: SpeechRecognizer, padded: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        aishell = Path(tmp) / "aishell.tsv"
        rows = (EVAL / "transcripts.tsv").read_text(encoding="utf-8")
        aishell.write_text(rows, encoding="utf-8")
        for clip_id, *_ in read_manifest(EVAL / "transcripts.tsv"):
            shutil.copy(EVAL / f"{clip_id}.wav", Path(tmp) / f"{clip_id}.wav")
        sets = {"questions": EVAL / "questions" / "questions.tsv", "AISHELL": aishell}
        if padded:
            sets = {"padded questions": _padded_questions(Path(tmp))}
        for name, tsv in sets.items():
            summary = evaluate_speech(tsv, recognizer).summary()
            print(
                f"  {name:<17} CER raw {summary['CER raw']:.4f}  corrected "
                f"{summary['CER corrected']:.4f}  key-term recall "
                f"{summary['key-term recall corrected']:.3f}  compute s/audio s "
                f"{summary['compute s per audio s']:.2f}"
            )


def _wav_bytes(samples: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return buffer.getvalue()


def _padded_questions(folder: Path) -> Path:
    """The questions with 2 s of silence and faint noise before and after."""
    rng = np.random.default_rng(0)
    tsv = folder / "padded.tsv"
    shutil.copy(EVAL / "questions" / "questions.tsv", tsv)
    for clip_id, _, _, _ in read_manifest(EVAL / "questions" / "questions.tsv"):
        samples = decode(EVAL / "questions" / f"{clip_id}.wav")
        pad = (0.002 * rng.standard_normal(2 * SAMPLE_RATE)).astype(np.float32)
        padded = np.concatenate([pad, samples, pad[::-1]])
        (folder / f"{clip_id}.wav").write_bytes(_wav_bytes(padded))
    return tsv


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", default="faster-whisper")
    parser.add_argument("--no-cer", action="store_true")
    parser.add_argument("--padded", action="store_true")
    args = parser.parse_args()
    settings = Settings(_env_file=None, home=ROOT / ".skg", whisper_backend=args.backend)
    started = time.perf_counter()
    screening = assembly.speech_screening(settings)
    print(
        f"{screening.vad.name if screening.vad else 'no VAD'} loaded in "
        f"{time.perf_counter() - started:.2f} s; data {EVAL}"
    )
    time_decode_and_vad(screening)
    transcriber = assembly.load_transcriber(settings)
    data = load_beir(ROOT / "data" / "golden")
    _, graph = graph_for_corpus(data, ROOT / "data" / "samples")
    tokens = [tokenize(f"{d['title']}\n{d['text']}") for d in data.corpus.values()]
    screened = assembly.graph_aware_recognizer(transcriber, graph, tokens, screening)
    time_refusals(screened)
    if args.no_cer:
        return
    plain = assembly.graph_aware_recognizer(transcriber, graph, tokens, NO_SCREENING)
    for name, recognizer in (("without screening", plain), ("with screening", screened)):
        print(f"\nCER, {transcriber.name}, graph-aware, {name}")
        cer(recognizer, args.padded)


if __name__ == "__main__":
    main()
