"""``Embedder`` backed by a local sentence-transformers model folder."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from kg.errors import ModelError

logger = logging.getLogger(__name__)


class SentenceTransformerEmbedder:
    """Loads the model once; uses its "query"/"passage" prompts when it has them (E5 does)."""

    def __init__(self, model_path: Path, *, batch_size: int = 32) -> None:
        if not model_path.exists():
            raise ModelError(
                f"Embedding model not found at {model_path}. Run `skg models prepare`, "
                "or set SKG_EMBEDDING_MODEL to a sentence-transformers folder."
            )
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()

        self._model = SentenceTransformer(str(model_path), device="cpu")
        self._prompts = set(self._model.prompts)
        self._batch_size = batch_size
        self.name = model_path.name
        self.dimensions = int(self._model.get_embedding_dimension() or 0)
        logger.info("loaded embedding model %s (%d dims)", model_path, self.dimensions)

    def _encode(self, texts: Sequence[str], prompt_name: str) -> NDArray[Any]:
        vectors = self._model.encode(
            list(texts),
            prompt_name=prompt_name if prompt_name in self._prompts else None,
            batch_size=self._batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    def embed_queries(self, texts: Sequence[str]) -> NDArray[Any]:
        return self._encode(texts, "query")

    def embed_passages(self, texts: Sequence[str]) -> NDArray[Any]:
        return self._encode(texts, "passage")
