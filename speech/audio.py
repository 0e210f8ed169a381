"""Decode audio as phones and browsers send it into 16 kHz mono float32 samples (PyAV/FFmpeg).

User audio is untrusted. It is read into memory, its container is sniffed from its first bytes
(``speech/formats.py``) and opened with that demuxer forced; FFmpeg may open nothing else (no
nested files or URLs), and decoding has a wall-clock budget. Errors never carry FFmpeg's text
or a path the server knows: the details go to the log.
"""

from __future__ import annotations

import io
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import av
import numpy as np
from numpy.typing import NDArray

from kg.errors import AudioError
from speech.formats import SUPPORTED_NAMES, sniff

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16_000

# Every demuxer gets these. No protocol is whitelisted, so a demuxer that tries to open another
# file or URL fails; the input itself is read through PyAV's in-memory IO, not a protocol.
CONTAINER_OPTIONS = {"protocol_whitelist": "none"}
# mov/mp4 may point at media in other files ("data references"); FFmpeg's defaults already
# ignore them, and they are set here so that no build or default change can turn them on.
DEMUXER_OPTIONS = {"mov": {"enable_drefs": "0", "use_absolute_path": "0"}}

UNSUPPORTED = (
    f"无法解码音频：不支持的音频格式（支持 {SUPPORTED_NAMES}）"
    "(unsupported audio format; send wav, mp3, m4a, webm, ogg or flac)"
)
CORRUPT = "无法解码音频：文件可能已损坏，请重新录制 (the audio is corrupt and cannot be decoded)"


@dataclass(frozen=True)
class AudioLimits:
    max_seconds: float = 120.0
    max_bytes: int = 20 * 1024 * 1024
    min_seconds: float = 0.3
    silence_rms: float = 1e-3
    decode_seconds: float = 10.0


def decode(source: Path | BinaryIO, limits: AudioLimits = AudioLimits()) -> NDArray[Any]:
    """Decode an allowed container's first audio stream; raise ``AudioError`` with a reason a
    person understands."""
    data = _read(source, limits)
    demuxer = sniff(data)
    if demuxer is None:
        logger.info("audio refused: unsupported container (first bytes %r)", data[:16])
        raise AudioError(UNSUPPORTED)
    samples = _decode(data, demuxer, limits)
    if samples.size < limits.min_seconds * SAMPLE_RATE:
        raise AudioError("音频太短或为空，请按住按钮说完整的问题 (the audio is empty or too short)")
    if float(np.sqrt(np.mean(samples**2))) < limits.silence_rms:
        raise AudioError("没有检测到说话声音（音频几乎是静音）(no speech detected: silence)")
    return samples


def _read(source: Path | BinaryIO, limits: AudioLimits) -> bytes:
    if isinstance(source, Path):
        # A path comes from the person at the command line, never from an API client.
        if not source.is_file():
            raise AudioError(f"音频文件不存在：{source} (no such file)")
        size = source.stat().st_size
        if size > limits.max_bytes:
            raise AudioError(
                f"音频文件过大（{size} 字节，上限 {limits.max_bytes}）(file too large)"
            )
        data = source.read_bytes()
    else:
        data = source.read(limits.max_bytes + 1)
        if len(data) > limits.max_bytes:
            raise AudioError(f"音频文件过大（上限 {limits.max_bytes} 字节）(file too large)")
    if not data:
        raise AudioError("音频文件为空 (the audio file is empty)")
    return data


def _decode(data: bytes, demuxer: str, limits: AudioLimits) -> NDArray[Any]:
    deadline = time.monotonic() + limits.decode_seconds
    options = {**CONTAINER_OPTIONS, **DEMUXER_OPTIONS.get(demuxer, {})}
    chunks: list[NDArray[Any]] = []
    total = 0
    try:
        with av.open(
            io.BytesIO(data),
            mode="r",
            format=demuxer,
            container_options=options,
            metadata_errors="replace",
            timeout=(limits.decode_seconds, limits.decode_seconds),
        ) as container:
            if not container.streams.audio:
                raise AudioError("文件中没有音频流 (the file has no audio track)")
            resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
            for frame in container.decode(audio=0):
                for out in resampler.resample(frame):
                    chunk = out.to_ndarray().reshape(-1)
                    chunks.append(chunk)
                    total += chunk.size
                if total > limits.max_seconds * SAMPLE_RATE:
                    raise AudioError(
                        f"音频过长，上限 {limits.max_seconds:.0f} 秒 (the audio is too long)"
                    )
                if time.monotonic() > deadline:
                    raise _too_slow(limits)
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
    except av.ExitError as exc:  # the open/read timeout's interrupt
        logger.info("audio decoding interrupted (%s): %s", demuxer, exc)
        raise _too_slow(limits) from exc
    except av.FFmpegError as exc:
        logger.info("audio refused: %s demuxer failed: %s", demuxer, exc)
        raise AudioError(CORRUPT) from exc
    if time.monotonic() > deadline:
        raise _too_slow(limits)
    return np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)


def _too_slow(limits: AudioLimits) -> AudioError:
    return AudioError(
        f"音频解码超时（超过 {limits.decode_seconds:g} 秒），请上传更短的录音 "
        f"(decoding took longer than {limits.decode_seconds:g} s)"
    )
