"""Dense retrieval: a FAISS index over atom embeddings, persisted with a manifest."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np
from numpy.typing import NDArray

from kg.errors import IndexNotReadyError
from retrieval.embedding.base import Embedder
from retrieval.query import Query
from retrieval.retrievers.base import Hit

logger = logging.getLogger(__name__)

INDEX_FILE = "atoms.faiss"
MANIFEST_FILE = "manifest.json"
# Exact search below this many atoms, HNSW above (docs/retrieval.md has the measurements).
HNSW_THRESHOLD = 50_000
HNSW_M = 32
HNSW_EF_SEARCH = 128


@dataclass
class FaissIndex:
    """Inner-product search over unit vectors (= cosine), with atom ids and versions: exact
    below ``HNSW_THRESHOLD`` atoms, HNSW above."""

    index: faiss.Index
    ids: list[str]
    versions: list[int]
    model: str

    @classmethod
    def build(
        cls, ids: Sequence[str], versions: Sequence[int], vectors: NDArray[Any], model: str
    ) -> FaissIndex:
        dims = int(vectors.shape[1])
        if len(vectors) >= HNSW_THRESHOLD:
            # Approximate above the threshold: exact search grows linearly with the atoms.
            hnsw = faiss.IndexHNSWFlat(dims, HNSW_M, faiss.METRIC_INNER_PRODUCT)
            hnsw.hnsw.efConstruction = 80
            hnsw.hnsw.efSearch = HNSW_EF_SEARCH
            index: faiss.Index = hnsw
        else:
            index = faiss.IndexFlatIP(dims)
        if len(vectors):
            index.add(np.ascontiguousarray(vectors, dtype=np.float32))
        return cls(index=index, ids=list(ids), versions=list(versions), model=model)

    @property
    def dimensions(self) -> int:
        return int(self.index.d)

    def search(self, query: NDArray[Any], k: int) -> list[tuple[str, float]]:
        if not self.ids:
            return []
        scores, rows = self.index.search(query.reshape(1, -1).astype(np.float32), k)
        return [(self.ids[r], float(s)) for s, r in zip(scores[0], rows[0], strict=True) if r >= 0]

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        faiss.write_index(self.index, str(directory / INDEX_FILE))
        manifest = {
            "model": self.model,
            "dimensions": self.dimensions,
            "count": len(self.ids),
            "index_type": type(self.index).__name__,
            "atoms": dict(zip(self.ids, self.versions, strict=True)),
        }
        (directory / MANIFEST_FILE).write_text(json.dumps(manifest, ensure_ascii=False))

    @classmethod
    def load(cls, directory: Path) -> FaissIndex:
        try:
            manifest = json.loads((directory / MANIFEST_FILE).read_text())
            index = faiss.read_index(str(directory / INDEX_FILE))
        except (FileNotFoundError, json.JSONDecodeError, RuntimeError) as exc:
            raise IndexNotReadyError(
                f"No usable search index in {directory} ({exc}). Run `skg index sync` "
                "(or `skg ingest`) first."
            ) from exc
        atoms: dict[str, int] = manifest["atoms"]
        return cls(
            index=index, ids=list(atoms), versions=list(atoms.values()), model=manifest["model"]
        )


class DenseRetriever:
    """Embeds the question and searches the FAISS index."""

    name = "dense"

    def __init__(self, embedder: Embedder, index: FaissIndex) -> None:
        if index.ids and index.dimensions != embedder.dimensions:
            raise IndexNotReadyError(
                f"The index has {index.dimensions}-dimensional vectors from model "
                f"{index.model!r}, but the embedder {embedder.name!r} makes "
                f"{embedder.dimensions}. Run `skg index sync --rebuild`."
            )
        self._embedder = embedder
        self._index = index
        # Vectors of different encoders never meet: an index another encoder built (before
        # the index sync re-embeds it) is left out of dense search until it is rebuilt.
        self._usable = not index.ids or index.model == embedder.name
        if not self._usable:
            logger.warning(
                "the search index holds vectors of %r but questions are embedded by %r: dense "
                "search is off until `skg index sync` re-embeds the atoms",
                index.model,
                embedder.name,
            )

    def search(self, query: Query, top_k: int) -> list[Hit]:
        if not self._usable:
            return []
        vector = self._embedder.embed_queries([query.dense_text])[0]
        return [
            Hit(atom_id=i, score=s, retriever=self.name)
            for i, s in self._index.search(vector, top_k)
        ]
