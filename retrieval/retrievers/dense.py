"""Dense retrieval: a FAISS index over atom embeddings, persisted with a manifest."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
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
DEAD_FILE = "dead.npy"
DELTA_FILE = "delta.npy"
MANIFEST_FILE = "manifest.json"
# Exact search below this many atoms, HNSW above (docs/retrieval.md has the measurements);
# from FP16_THRESHOLD on, HNSW over fp16 scalars: the same recall at 58 % of the memory
# (benchmarks/memory_options.py, docs/benchmarks.md "Scale").
HNSW_THRESHOLD = 50_000
FP16_THRESHOLD = 300_000
HNSW_M = 32
HNSW_EF_SEARCH = 128


class FaissIndex:
    """Inner-product search over unit vectors (= cosine), with atom ids and versions: exact
    below ``HNSW_THRESHOLD`` atoms, HNSW above.

    Kept by segments (issue 15): the main index is never changed after it is built; a sync
    marks the rows of changed or removed atoms dead (searches skip them through an id
    selector) and puts their new vectors in a small exact delta index. ``with_changes``
    returns a new generation and leaves this one to the searches in flight.
    """

    def __init__(
        self,
        index: faiss.Index,
        ids: Sequence[str],
        versions: Sequence[int],
        model: str,
        *,
        dead: NDArray[Any] | None = None,
        delta_ids: Sequence[str] = (),
        delta_vectors: NDArray[Any] | None = None,
        live: dict[str, int] | None = None,
    ) -> None:
        self.index = index
        self.model = model
        self._rows = list(ids)  # main index row -> atom id
        self._row_versions = list(versions)
        self._dead = dead if dead is not None else np.zeros(len(self._rows), dtype=bool)
        self._delta_ids = list(delta_ids)
        dims = int(index.d)
        self._delta_vectors = (
            delta_vectors if delta_vectors is not None else np.zeros((0, dims), np.float32)
        )
        self._delta = faiss.IndexFlatIP(dims)
        if len(self._delta_ids):
            self._delta.add(self._delta_vectors)
        # atom id -> version of everything live (main rows not dead, and the delta)
        self._live = (
            live if live is not None else dict(zip(self._rows, self._row_versions, strict=True))
        )
        self._params = self._search_params()
        self._row: dict[str, int] | None = None  # main row of each atom id, built when needed
        self._delta_row: dict[str, int] | None = None

    @classmethod
    def build(
        cls, ids: Sequence[str], versions: Sequence[int], vectors: NDArray[Any], model: str
    ) -> FaissIndex:
        dims = int(vectors.shape[1])
        hnsw: faiss.IndexHNSW | None = None
        if len(vectors) >= FP16_THRESHOLD:
            fp16 = faiss.ScalarQuantizer.QT_fp16  # an int; the type stubs want a quantiser
            hnsw = faiss.IndexHNSWSQ(dims, fp16, HNSW_M, faiss.METRIC_INNER_PRODUCT)  # type: ignore[arg-type]
            hnsw.train(np.ascontiguousarray(vectors[:1_000], dtype=np.float32))  # no-op for fp16
        elif len(vectors) >= HNSW_THRESHOLD:
            # Approximate above the threshold: exact search grows linearly with the atoms.
            hnsw = faiss.IndexHNSWFlat(dims, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        if hnsw is not None:
            hnsw.hnsw.efConstruction = 80
            hnsw.hnsw.efSearch = HNSW_EF_SEARCH
            index: faiss.Index = hnsw
        else:
            index = faiss.IndexFlatIP(dims)
        if len(vectors):
            index.add(np.ascontiguousarray(vectors, dtype=np.float32))
        return cls(index, ids, versions, model)

    def _search_params(self) -> faiss.SearchParameters | None:
        if not self._dead.any():
            return None
        # A bit per main row, set where the row is live (faiss reads bits little-endian).
        self._bitmap = np.packbits(~self._dead, bitorder="little")
        selector = faiss.IDSelectorBitmap(len(self._dead), faiss.swig_ptr(self._bitmap))
        self._selector = selector  # the parameters do not keep it alive
        # faiss's type stubs lack SearchParametersHNSW and the ``sel`` keyword; both exist.
        params: faiss.SearchParameters
        if isinstance(self.index, faiss.IndexHNSW):
            params = faiss.SearchParametersHNSW(  # type: ignore[attr-defined]
                sel=selector, efSearch=HNSW_EF_SEARCH
            )
        else:
            params = faiss.SearchParameters(sel=selector)  # type: ignore[call-arg]
        return params

    @property
    def ids(self) -> list[str]:
        return list(self._live)

    @property
    def versions(self) -> list[int]:
        return list(self._live.values())

    @property
    def dimensions(self) -> int:
        return int(self.index.d)

    @property
    def delta_size(self) -> int:
        return len(self._delta_ids)

    @property
    def dead_count(self) -> int:
        return int(self._dead.sum())

    def search(self, query: NDArray[Any], k: int) -> list[tuple[str, float]]:
        if not self._live:
            return []
        q = query.reshape(1, -1).astype(np.float32)
        hits: list[tuple[str, float]] = []
        if len(self._rows) > self.dead_count:
            scores, rows = self.index.search(q, k, params=self._params)
            hits += [
                (self._rows[r], float(s)) for s, r in zip(scores[0], rows[0], strict=True) if r >= 0
            ]
        if self._delta_ids:
            scores, rows = self._delta.search(q, min(k, len(self._delta_ids)))
            hits += [
                (self._delta_ids[r], float(s))
                for s, r in zip(scores[0], rows[0], strict=True)
                if r >= 0
            ]
        # Equal scores in id order, wherever the atoms sit (a maintained index ranks as a
        # rebuilt one).
        return sorted(hits, key=lambda h: (-h[1], h[0]))[:k]

    def vectors(self, atom_ids: Sequence[str]) -> NDArray[Any]:
        """The stored vectors of these atoms (rows in order; zeros for an atom not live here),
        read back from the index: fp16 scalars above ``FP16_THRESHOLD`` come back within 2e-4."""
        out = np.zeros((len(atom_ids), self.dimensions), dtype=np.float32)
        row_of = self._row_index()
        rows = np.fromiter((row_of.get(a, -1) for a in atom_ids), np.int64, len(atom_ids))
        found = rows >= 0
        found[found] = ~self._dead[rows[found]]  # a changed atom's vector is in the delta
        if found.any():
            out[found] = self.index.reconstruct_batch(rows[found])
        if self._delta_ids:
            if self._delta_row is None:
                self._delta_row = {atom_id: r for r, atom_id in enumerate(self._delta_ids)}
            delta = self._delta_row
            for i, atom_id in enumerate(atom_ids):
                if (r := delta.get(atom_id)) is not None:
                    out[i] = self._delta_vectors[r]
        return out

    def _row_index(self) -> dict[str, int]:
        """Atom id -> main index row, built on first need (shared by later generations)."""
        if self._row is None:
            self._row = {atom_id: r for r, atom_id in enumerate(self._rows)}
        return self._row

    def with_changes(
        self, upserts: dict[str, tuple[int, NDArray[Any]]], removals: Iterable[str]
    ) -> FaissIndex:
        """A new generation with these atoms' (version, vector) put in or replaced and these
        atoms taken out."""
        row_of = self._row_index()
        gone = set(removals) | set(upserts)
        dead = self._dead.copy()
        for atom_id in gone:
            row = row_of.get(atom_id)
            if row is not None:
                dead[row] = True
        keep = [i for i, atom_id in enumerate(self._delta_ids) if atom_id not in gone]
        delta_ids = [self._delta_ids[i] for i in keep] + list(upserts)
        new_vectors = [np.asarray(v, dtype=np.float32) for _, v in upserts.values()]
        delta_vectors = np.concatenate(
            [
                self._delta_vectors[keep],
                np.asarray(new_vectors, np.float32).reshape(-1, self.dimensions),
            ]
        )
        live = {a: v for a, v in self._live.items() if a not in gone}
        live.update({a: version for a, (version, _) in upserts.items()})
        changed = FaissIndex(
            self.index,
            self._rows,
            self._row_versions,
            self.model,
            dead=dead,
            delta_ids=delta_ids,
            delta_vectors=np.ascontiguousarray(delta_vectors),
            live=live,
        )
        changed._row = self._row
        return changed

    def needs_merge(self, share: float, minimum: int) -> bool:
        limit = max(minimum, share * len(self._rows))
        return self.delta_size > limit or self.dead_count > limit

    def merged(self) -> FaissIndex:
        """One main index again from the live vectors (read back from this one), in id order
        as a full sync builds it."""
        vectors: dict[str, NDArray[Any]] = {}
        if len(self._rows):
            stored = self.index.reconstruct_n(0, len(self._rows))
            for r in np.flatnonzero(~self._dead):
                vectors[self._rows[int(r)]] = stored[r]
        vectors.update(zip(self._delta_ids, self._delta_vectors, strict=True))
        ids = sorted(self._live)
        matrix = (
            np.asarray([vectors[a] for a in ids], dtype=np.float32)
            if ids
            else np.zeros((0, self.dimensions), dtype=np.float32)
        )
        return FaissIndex.build(ids, [self._live[a] for a in ids], matrix, self.model)

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        faiss.write_index(self.index, str(directory / INDEX_FILE))
        np.save(directory / DEAD_FILE, self._dead)
        np.save(directory / DELTA_FILE, self._delta_vectors)
        manifest = {
            "model": self.model,
            "dimensions": self.dimensions,
            "count": len(self._live),
            "index_type": type(self.index).__name__,
            "atoms": self._live,
            "rows": dict(zip(self._rows, self._row_versions, strict=True)),
            "delta": self._delta_ids,
        }
        (directory / MANIFEST_FILE).write_text(json.dumps(manifest, ensure_ascii=False))

    @classmethod
    def load(cls, directory: Path) -> FaissIndex:
        try:
            manifest = json.loads((directory / MANIFEST_FILE).read_text())
            index = faiss.read_index(str(directory / INDEX_FILE))
            segmented = "rows" in manifest
            dead = np.load(directory / DEAD_FILE) if segmented else None
            delta = np.load(directory / DELTA_FILE) if segmented else None
        except (FileNotFoundError, json.JSONDecodeError, RuntimeError, ValueError) as exc:
            raise IndexNotReadyError(
                f"No usable search index in {directory} ({exc}). Run `skg index sync` "
                "(or `skg ingest`) first."
            ) from exc
        rows: dict[str, int] = manifest.get("rows", manifest["atoms"])
        return cls(
            index,
            list(rows),
            list(rows.values()),
            manifest["model"],
            dead=dead,
            delta_ids=manifest.get("delta", []),
            delta_vectors=delta,
            live={k: int(v) for k, v in manifest["atoms"].items()},
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
