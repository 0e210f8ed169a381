"""``Embedder`` on OpenVINO: multilingual-e5-small converted from the prepared
sentence-transformers folder to OpenVINO IR (its fp16 weights as they are), with the model's
own tokenizer, prompts, mean pooling and normalisation.

OpenVINO's CPU plugin computes in bfloat16 where the CPU has bfloat16 units (AMX or
AVX512-BF16) and in fp32 elsewhere; the precision used is part of the encoder's name, and so of
every index built with it. Chosen by measurement among PyTorch, ONNX Runtime, OpenVINO and
CTranslate2 (benchmarks/encoders.py, docs/benchmarks.md "Encoders"). Built offline by ``skg
models prepare`` (``models_build/encoders.py``) and checked against the PyTorch vectors at build
time; loads without torch.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from kg.errors import ModelError
from retrieval.embedding.base import encode_by_length

logger = logging.getLogger(__name__)

CONFIG = "skg-encoder.json"
MODEL = "model.xml"
PRECISIONS = ("auto", "f32")  # auto: bf16 where the CPU has it, else f32


class OpenVinoEmbedder:
    """Sentence embeddings from a converted e5 folder (``models_build.encoders.build_openvino``)."""

    def __init__(
        self, folder: Path, *, threads: int = 0, precision: str = "auto", batch_size: int = 32
    ) -> None:
        if not (folder / CONFIG).is_file() or not (folder / MODEL).is_file():
            raise ModelError(
                f"Encoder not found at {folder}. Run `skg models prepare`, or set "
                "SKG_ENCODER=torch."
            )
        if precision not in PRECISIONS:
            raise ModelError(f"unknown encoder precision {precision!r}; one of {PRECISIONS}")
        import openvino as ov
        from tokenizers import Tokenizer

        config = json.loads((folder / CONFIG).read_text(encoding="utf-8"))
        options: dict[str, Any] = {"PERFORMANCE_HINT": "LATENCY"}
        if threads:
            options["INFERENCE_NUM_THREADS"] = threads
        if precision == "f32":
            options["INFERENCE_PRECISION_HINT"] = "f32"
        self._compiled = ov.Core().compile_model(str(folder / MODEL), "CPU", options)
        self._names = [port.get_any_name() for port in self._compiled.inputs]
        self._local = threading.local()  # an infer request per thread: they are not shared
        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._tokenizer.enable_truncation(int(config["max_length"]))
        self._prompts: dict[str, str] = config["prompts"]
        self._batch_size = batch_size
        self.dimensions = int(config["dimensions"])
        self.precision = _short(self._compiled.get_property("INFERENCE_PRECISION_HINT"))
        # The model's identity goes into every index built with it (the dense manifest's
        # `model`): vectors of different encoders or precisions never meet in one index.
        self.name = f"{config['model']}-openvino-{self.precision}"

    def embed_queries(self, texts: Sequence[str]) -> NDArray[Any]:
        return self._encode([self._prompts.get("query", "") + t for t in texts])

    def embed_passages(self, texts: Sequence[str]) -> NDArray[Any]:
        return self._encode([self._prompts.get("passage", "") + t for t in texts])

    def _encode(self, texts: Sequence[str]) -> NDArray[Any]:
        return encode_by_length(texts, self.dimensions, self._batch_size, self._forward)

    def _forward(self, texts: list[str]) -> NDArray[Any]:
        encodings = self._tokenizer.encode_batch(texts)
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(texts), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding.ids)] = encoding.ids
            mask[row, : len(encoding.ids)] = 1
        request = getattr(self._local, "request", None)
        if request is None:
            request = self._local.request = self._compiled.create_infer_request()
        feeds = {"input_ids": ids, "attention_mask": mask}
        hidden = request.infer({name: feeds[name] for name in self._names})[0]
        pooled = (hidden * mask[:, :, None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
        vectors: NDArray[Any] = pooled / np.maximum(
            np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12
        )
        return vectors


def encoder_name(folder: Path, precision: str = "auto") -> str:
    """The name ``OpenVinoEmbedder(folder, precision=precision)`` will have on this CPU,
    without compiling the model (an index sync that embeds nothing never loads it)."""
    import openvino as ov

    config = json.loads((folder / CONFIG).read_text(encoding="utf-8"))
    used = (
        "f32"
        if precision == "f32"
        else _short(ov.Core().get_property("CPU", "INFERENCE_PRECISION_HINT"))
    )
    return f"{config['model']}-openvino-{used}"


def _short(precision: object) -> str:
    return "bf16" if "bf" in str(precision).lower() else "f32"
