"""``Embedder`` on CTranslate2: multilingual-e5-small converted from the prepared
sentence-transformers folder to an int8 CTranslate2 encoder (CTranslate2 is already here for
faster-whisper), with the model's own tokenizer, prompts, mean pooling and normalisation.

``SKG_ENCODER=ct2-int8``: the fastest runtime measured (benchmarks/encoders.py,
docs/benchmarks.md "Encoders"), but not the default: int8 moves nDCG@10 by more than 0.003 on
some sets. Built offline by ``skg models prepare`` (``build``) and checked against the PyTorch
vectors at build time; loads without torch.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from kg.errors import ModelError
from retrieval.embedding.probe import check_against_torch

logger = logging.getLogger(__name__)

CONFIG = "skg-encoder.json"


class Ct2Embedder:
    """Sentence embeddings from a converted e5 folder (``build``)."""

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

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode([self._prompts.get("query", "") + t for t in texts])

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode([self._prompts.get("passage", "") + t for t in texts])

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        # Shortest first, so each batch pads to a similar length.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), self._batch_size):
            rows = order[start : start + self._batch_size]
            out[rows] = self._forward([texts[i] for i in rows])
        return out

    def _forward(self, texts: list[str]) -> np.ndarray:
        ids = [e.ids for e in self._tokenizer.encode_batch(texts)]
        hidden = np.asarray(self._encoder.forward_batch(ids).last_hidden_state)
        lengths = np.array([len(i) for i in ids])
        mask = np.arange(hidden.shape[1])[None, :] < lengths[:, None]
        pooled = (hidden * mask[:, :, None]).sum(axis=1) / lengths[:, None]
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)


def encoder_name(folder: Path) -> str:
    """The name ``Ct2Embedder(folder)`` will have, without loading the model."""
    config = json.loads((folder / CONFIG).read_text(encoding="utf-8"))
    return f"{config['model']}-ct2-{config['compute_type']}"


def build(source: Path, folder: Path, compute_type: str = "int8") -> dict[str, float]:
    """Convert a prepared sentence-transformers e5 folder into a CTranslate2 encoder and check
    it against the PyTorch model (``ModelError`` when it drifts)."""
    import shutil

    from ctranslate2.converters import transformers as converters
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # its load report lists the unused classifier head
    hf_logging.disable_progress_bar()

    class PaddedVocabulary(converters.XLMRobertaLoader):  # type: ignore[misc]
        """The e5 checkpoint has 35 more embedding rows than its tokenizer has pieces (never
        produced by the tokenizer); CTranslate2 wants one vocabulary entry per row."""

        def get_vocabulary(self, model, tokenizer):  # type: ignore[no-untyped-def]
            vocabulary = list(super().get_vocabulary(model, tokenizer))
            rows = model.get_input_embeddings().weight.shape[0]
            return vocabulary + [f"<skg_unused_{i}>" for i in range(rows - len(vocabulary))]

    converters.register_loader("XLMRobertaConfig")(PaddedVocabulary)
    converters.TransformersConverter(str(source)).convert(
        str(folder), quantization=compute_type, force=True
    )
    st = SentenceTransformer(str(source), device="cpu")
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        if (source / name).exists():
            shutil.copy(source / name, folder / name)
    config = {
        "model": source.name,
        "compute_type": compute_type,
        "dimensions": int(st.get_embedding_dimension() or 0),
        "max_length": int(st.max_seq_length or 512),
        "prompts": dict(st.prompts),
    }
    (folder / CONFIG).write_text(json.dumps(config, ensure_ascii=False, indent=1))
    return check_against_torch(Ct2Embedder(folder), st)
