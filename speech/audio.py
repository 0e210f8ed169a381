"""Decode audio as phones and browsers send it into 16 kHz mono float32 samples (PyAV/FFmpeg)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import av
import numpy as np

from kg.errors import AudioError

SAMPLE_RATE = 16_000


@dataclass(frozen=True)
class AudioLimits:
    max_seconds: float = 120.0
    max_bytes: int = 20 * 1024 * 1024
    min_seconds: float = 0.3
    silence_rms: float = 1e-3


def decode(source: Path | BinaryIO, limits: AudioLimits = AudioLimits()) -> np.ndarray:
    """Decode any format FFmpeg reads; raise ``AudioError`` with a reason a person understands."""
    if isinstance(source, Path):
        if not source.exists():
            raise AudioError(f"音频文件不存在：{source}")
        size = source.stat().st_size
        if size > limits.max_bytes:
            raise AudioError(f"音频文件过大（{size} 字节，上限 {limits.max_bytes}）")
        if size == 0:
            raise AudioError("音频文件为空")
    try:
        with av.open(str(source) if isinstance(source, Path) else source) as container:
            if not container.streams.audio:
                raise AudioError("文件中没有音频流")
            resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
            chunks: list[np.ndarray] = []
            total = 0
            for frame in container.decode(audio=0):
                for out in resampler.resample(frame):
                    chunk = out.to_ndarray().reshape(-1)
                    chunks.append(chunk)
                    total += chunk.size
                if total > limits.max_seconds * SAMPLE_RATE:
                    raise AudioError(f"音频过长，上限 {limits.max_seconds:.0f} 秒")
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
    except av.FFmpegError as exc:
        raise AudioError(f"无法解码音频（文件损坏或格式不支持）：{exc}") from exc
    samples = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
    if samples.size < limits.min_seconds * SAMPLE_RATE:
        raise AudioError("音频太短或为空，请按住按钮说完整的问题")
    if float(np.sqrt(np.mean(samples**2))) < limits.silence_rms:
        raise AudioError("没有检测到说话声音（音频几乎是静音）")
    return samples
