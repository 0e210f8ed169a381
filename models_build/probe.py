"""The build-time check of a converted encoder: its vectors against the PyTorch model's on
questions and passages of the kind SalesKG embeds. A conversion that drifts is refused."""

from __future__ import annotations

import logging

import numpy as np

from kg.errors import ModelError
from retrieval.embedding.base import Embedder

logger = logging.getLogger(__name__)

PROBE = (
    ("query", "如何向宁德时代解释热失控防护方案？"),
    ("query", "CATL那边问热失控怎么防，我该怎么讲？"),
    ("query", "How do I explain our thermal runaway protection to CATL?"),
    ("query", "客户嫌贵怎么办"),
    (
        "passage",
        "【宁德时代热失控防护方案 · 方案】电芯间布置气凝胶隔热垫，PACK上盖设置定向泄压阀。",
    ),
    ("passage", "【术语】热蔓延：一颗电芯热失控后，把热量传给相邻电芯，引发一串电芯接连失控。"),
)
MIN_PROBE_COSINE = 0.995  # a build below this against fp32 is refused


def check_against_torch(embedder: Embedder, reference: object) -> dict[str, float]:
    """Lowest and mean cosine of ``embedder``'s vectors to the PyTorch model ``reference``
    (a SentenceTransformer) on ``PROBE``; ``ModelError`` below ``MIN_PROBE_COSINE``."""
    from sentence_transformers import SentenceTransformer

    assert isinstance(reference, SentenceTransformer)
    cosines = []
    for kind, text in PROBE:
        expected = reference.encode(
            [text], prompt_name=kind, normalize_embeddings=True, show_progress_bar=False
        )[0]
        embed = embedder.embed_queries if kind == "query" else embedder.embed_passages
        cosines.append(float(embed([text])[0] @ expected))
    found = {"min_cosine": min(cosines), "mean_cosine": float(np.mean(cosines))}
    logger.info("%s against PyTorch: %s", embedder.name, found)
    if found["min_cosine"] < MIN_PROBE_COSINE:
        raise ModelError(
            f"the converted encoder {embedder.name} drifts from the PyTorch model (cosine "
            f"{found['min_cosine']:.4f} < {MIN_PROBE_COSINE}); not using it"
        )
    return found
