"""Keep the FAISS index in step with the graph: embed what is new or changed, rebuild the index.

Embeddings live on the atoms in Neo4j too, so the index can always be rebuilt from the graph
alone without embedding again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kg.store import GraphStore
from retrieval.dense import FaissIndex
from retrieval.embedding.base import Embedder

logger = logging.getLogger(__name__)

EMBED_BATCH = 64


@dataclass(frozen=True)
class SyncReport:
    embedded: int
    indexed: int


def sync_index(
    store: GraphStore,
    embedder: Embedder,
    index_dir: Path,
    *,
    on_batch: Callable[[int, int], None] | None = None,
) -> SyncReport:
    """Embed atoms without embeddings, then write the FAISS index from the graph's vectors.

    Args:
        on_batch: called with (done, total) after each embedding batch, for progress bars.
    """
    pending = store.atoms_needing_embedding()
    if on_batch:
        on_batch(0, len(pending))
    for start in range(0, len(pending), EMBED_BATCH):
        batch = pending[start : start + EMBED_BATCH]
        vectors = embedder.embed_passages([text for _, _, text in batch])
        store.set_embeddings(
            (atom_id, vector.tolist())
            for (atom_id, _, _), vector in zip(batch, vectors, strict=True)
        )
        if on_batch:
            on_batch(min(start + EMBED_BATCH, len(pending)), len(pending))
    rows = store.embeddings()
    vectors = (
        np.asarray([v for _, _, v in rows], dtype=np.float32)
        if rows
        else np.zeros((0, embedder.dimensions), dtype=np.float32)
    )
    index = FaissIndex.build(
        [i for i, _, _ in rows], [v for _, v, _ in rows], vectors, model=embedder.name
    )
    index.save(index_dir)
    logger.info("index synced: %d embedded, %d indexed", len(pending), len(rows))
    return SyncReport(embedded=len(pending), indexed=len(rows))
