"""``Embedder`` on CTranslate2: multilingual-e5-small converted from the prepared
sentence-transformers folder to an int8 CTranslate2 encoder (CTranslate2 is already here for
faster-whisper), with the model's own tokenizer, prompts, mean pooling and normalisation.

``SKG_ENCODER=ct2-int8``: the fastest runtime measured (benchmarks/encoders.py,
docs/benchmarks.md "Encoders"), but not the default: int8 moves nDCG@10 by more than 0.003 on
some sets. Built offline by ``skg models prepare`` (``models_build/encoders.py``) and checked
against the PyTorch vectors at build time; loads without torch.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from kg.errors import ModelError
from retrieval.embedding.base import encode_by_length

logger = logging.getLogger(__name__)

CONFIG = "skg-encoder.json"


class Ct2Embedder:
    """Sentence embeddings from a converted e5 folder (``models_build.encoders.build_ct2``)."""

    def __init__(self, folder: Path, *, threads: int = 0, batch_size: int = 32) -> None:
        if not (folder / CONFIG).is_file():
            raise ModelError(
                f"Encoder not found at {folder}. Run `skg models prepare`, or set "
                "SKG_ENCODER=torch."
            )
        import ctranslate2
        from tokenizers import Tokenizer

        config = json.loads((folder / CONFIG).read_text(encoding="utf-8"))
        self._encoder = ctranslate2.Encoder(
            str(folder), device="cpu", compute_type=config["compute_type"], intra_threads=threads
        )
        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._tokenizer.enable_truncation(int(config["max_length"]))
        self._prompts: dict[str, str] = config["prompts"]
        self._batch_size = batch_size
        self.dimensions = int(config["dimensions"])
        # The model's identity goes into every index built with it (the dense manifest's
        # `model`): vectors of different encoders never meet in one index.
        self.name = f"{config['model']}-ct2-{config['compute_type']}"

    def embed_queries(self, texts: Sequence[str]) -> NDArray[Any]:
        return self._encode([self._prompts.get("query", "") + t for t in texts])

    def embed_passages(self, texts: Sequence[str]) -> NDArray[Any]:
        return self._encode([self._prompts.get("passage", "") + t for t in texts])

    def _encode(self, texts: Sequence[str]) -> NDArray[Any]:
        return encode_by_length(texts, self.dimensions, self._batch_size, self._forward)

    def _forward(self, texts: list[str]) -> NDArray[Any]:
        ids = [e.ids for e in self._tokenizer.encode_batch(texts)]
        hidden = np.asarray(self._encoder.forward_batch(ids).last_hidden_state)
        lengths = np.array([len(i) for i in ids])
        mask = np.arange(hidden.shape[1])[None, :] < lengths[:, None]
        pooled = (hidden * mask[:, :, None]).sum(axis=1) / lengths[:, None]
        vectors: NDArray[Any] = pooled / np.maximum(
            np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12
        )
        return vectors


def encoder_name(folder: Path) -> str:
    """The name ``Ct2Embedder(folder)`` will have, without loading the model."""
    config = json.loads((folder / CONFIG).read_text(encoding="utf-8"))
    return f"{config['model']}-ct2-{config['compute_type']}"
