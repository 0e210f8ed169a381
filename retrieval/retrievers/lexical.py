"""Lexical retrieval: BM25 (bm25s) over jieba tokens, persisted beside the dense index."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from kg.errors import IndexNotReadyError
from retrieval.query import Query
from retrieval.retrievers.base import Hit
from retrieval.tokenize import tokenize

if TYPE_CHECKING:
    import bm25s

logger = logging.getLogger(__name__)

IDS_FILE = "ids.json"


def _bm25s() -> Any:  # bm25s has no type information
    """bm25s, imported where used: with numba beside it, it takes a second to import, which a
    run that builds and loads no lexical index (an unchanged re-ingest) should not pay."""
    import bm25s

    # bm25s sets its own logger to DEBUG on import, which printed "Building index from
    # tokens" into every sync's output.
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    return bm25s


class LexicalIndex:
    """BM25 over pre-tokenised atoms; ``ids[i]`` is the atom of document row ``i``."""

    def __init__(self, bm25: bm25s.BM25, ids: list[str]) -> None:
        self._bm25 = bm25
        self.ids = ids
        self._vocab = set(bm25.vocab_dict) if ids else set()

    @classmethod
    def build(cls, ids: Sequence[str], texts: Sequence[str]) -> LexicalIndex:
        return cls.from_tokens(ids, [tokenize(t) for t in texts])

    @classmethod
    def from_tokens(cls, ids: Sequence[str], tokens: Sequence[list[str]]) -> LexicalIndex:
        bm25 = _bm25s().BM25()
        if ids:
            bm25.index([t or ["∅"] for t in tokens], show_progress=False)
        return cls(bm25, list(ids))

    def search(self, tokens: Sequence[str], k: int) -> list[tuple[str, float]]:
        known = [t for t in tokens if t in self._vocab]
        if not known or not self.ids:
            return []
        # Scores for all rows, then a partial sort: 1 ms at 100k atoms, where bm25s's own
        # numpy retrieval took 15 ms (docs/benchmarks.md).
        scores = self._bm25.get_scores(known)
        k = min(k, len(self.ids))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(self.ids[int(r)], float(scores[r])) for r in top if scores[r] > 0]

    def idf(self, token: str) -> float | None:
        """BM25's IDF of a term over the atoms; None for a term no atom has."""
        column = self._bm25.vocab_dict.get(token) if self.ids else None
        if column is None or token not in self._vocab:
            return None
        indptr = self._bm25.scores["indptr"]
        df = int(indptr[column + 1] - indptr[column])
        n = len(self.ids)
        return float(np.log(1 + (n - df + 0.5) / (df + 0.5))) if df else None

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        if self.ids:
            self._bm25.save(str(directory), show_progress=False)
        (directory / IDS_FILE).write_text(json.dumps(self.ids, ensure_ascii=False))

    @classmethod
    def load(cls, directory: Path) -> LexicalIndex:
        try:
            ids = json.loads((directory / IDS_FILE).read_text())
            bm25s = _bm25s()
            bm25 = bm25s.BM25.load(str(directory), show_progress=False) if ids else bm25s.BM25()
        except (FileNotFoundError, json.JSONDecodeError, ValueError) as exc:
            raise IndexNotReadyError(
                f"No usable lexical index in {directory} ({exc}). Run `skg index sync`."
            ) from exc
        return cls(bm25, ids)


class LexicalRetriever:
    name = "lexical"

    def __init__(self, index: LexicalIndex) -> None:
        self._index = index

    def search(self, query: Query, top_k: int) -> list[Hit]:
        return [Hit(i, s, self.name) for i, s in self._index.search(query.search_tokens, top_k)]
