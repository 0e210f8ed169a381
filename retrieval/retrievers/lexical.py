"""Lexical retrieval: BM25 over jieba tokens, kept by segments (``retrieval/retrievers/bm25.py``).

A full build puts every atom in the main segment. A sync that changes a few atoms leaves the
main segment as it is, marks their old rows dead and puts their new tokens in a small delta
segment; scores stay exact (the statistics are those of the live atoms). When the delta or
the dead rows grow past a share of the index, the segments are merged again.
"""

from __future__ import annotations

import itertools
import json
import logging
import operator
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from kg.errors import IndexNotReadyError
from retrieval.query import Query
from retrieval.retrievers import bm25
from retrieval.retrievers.base import Hit
from retrieval.tokenize import tokenize

logger = logging.getLogger(__name__)

IDS_FILE = "ids.json"
DEAD_FILE = "dead.npy"


class LexicalIndex:
    """BM25 over pre-tokenised atoms; ``ids`` are the atoms it holds."""

    def __init__(
        self,
        main: bm25.Segment,
        main_ids: list[str],
        *,
        dead: NDArray[Any] | None = None,
        delta: bm25.Segment | None = None,
        delta_ids: list[str] | None = None,
        delta_tokens: dict[str, list[str]] | None = None,
        ordered: bool | None = None,
        bounds: tuple[NDArray[Any], NDArray[Any]] | None = None,
    ) -> None:
        """``ordered``: whether ``main_ids`` are in id order; ``bounds``: the main segment's
        ``bm25.column_bounds`` (each found when not given)."""
        self._main = main
        self._main_ids = main_ids
        self._dead = dead if dead is not None else np.zeros(len(main_ids), dtype=bool)
        self._delta = delta or bm25.Segment.empty()
        self._delta_ids = delta_ids or []
        self._delta_tokens = delta_tokens or {}
        self._row: dict[str, int] | None = None
        # No tombstones (after a full sync or a merge): None spares each term's postings a pass.
        tombstones = self._dead if self._dead.any() else None
        self._segments = [(self._main, tombstones), (self._delta, None)]
        self._stats = bm25.stats(self._segments)
        self._bounds = bounds if bounds is not None else bm25.column_bounds(main)
        dead_ids = {main_ids[int(r)] for r in np.flatnonzero(self._dead)}
        self.ids = [a for a in main_ids if a not in dead_ids] + self._delta_ids
        self._all_ids = main_ids + self._delta_ids if self._delta_ids else main_ids
        # Main rows in id order let a search break ties among many equal scores without
        # sorting them all (a thousand copies of an atom score alike).
        self._ordered = (
            all(map(operator.lt, main_ids, itertools.islice(main_ids, 1, None)))
            if ordered is None
            else ordered
        )

    @classmethod
    def build(cls, ids: Sequence[str], texts: Sequence[str]) -> LexicalIndex:
        return cls.from_tokens(ids, [tokenize(t) for t in texts])

    @classmethod
    def from_tokens(cls, ids: Sequence[str], tokens: Sequence[list[str]]) -> LexicalIndex:
        """The main segment holds the atoms in id order."""
        order = sorted(range(len(ids)), key=ids.__getitem__)
        return cls(
            bm25.Segment.build([tokens[i] for i in order]), [ids[i] for i in order], ordered=True
        )

    @property
    def delta_size(self) -> int:
        return len(self._delta_ids)

    @property
    def dead_count(self) -> int:
        return int(self._dead.sum())

    def with_changes(
        self, upserts: Mapping[str, list[str]], removals: Iterable[str]
    ) -> LexicalIndex:
        """A new index with these atoms' tokens put in (or replaced) and these atoms taken out;
        this one is left as it is (searches in flight keep using it)."""
        if self._row is None:
            self._row = {atom_id: r for r, atom_id in enumerate(self._main_ids)}
        gone = set(removals) | set(upserts)
        dead = self._dead.copy()
        for atom_id in gone:
            row = self._row.get(atom_id)
            if row is not None:
                dead[row] = True
        delta_tokens = {a: t for a, t in self._delta_tokens.items() if a not in gone}
        delta_tokens.update(upserts)
        merged = LexicalIndex(
            self._main,
            self._main_ids,
            dead=dead,
            delta=bm25.Segment.build(list(delta_tokens.values())),
            delta_ids=list(delta_tokens),
            delta_tokens=delta_tokens,
            ordered=self._ordered,
            bounds=self._bounds,
        )
        merged._row = self._row
        return merged

    def needs_merge(self, share: float, minimum: int) -> bool:
        """Whether the delta or the dead rows passed ``share`` of the main segment (or
        ``minimum`` atoms on a small index)."""
        limit = max(minimum, share * len(self._main_ids))
        return self.delta_size > limit or self.dead_count > limit

    def merged(self, tokens: Mapping[str, list[str]]) -> LexicalIndex:
        """One main segment again, from every live atom's ``tokens``, in id order (as a full
        sync builds it)."""
        return LexicalIndex.from_tokens(self.ids, [tokens[a] for a in self.ids])

    def search(self, tokens: Sequence[str], k: int) -> list[tuple[str, float]]:
        known = [t for t in tokens if t in self._main.vocab or t in self._delta.vocab]
        if not known or not self.ids:
            return []
        (main_rows, main_scores), (delta_rows, delta_scores) = bm25.top(
            known, self._segments, self._stats, k, self._bounds
        )
        rows = np.concatenate([main_rows, delta_rows + len(self._main_ids)])
        values = np.concatenate([main_scores, delta_scores])
        if not len(values):
            return []
        k = min(k, len(values))
        kth = float(np.partition(values, len(values) - k)[len(values) - k])
        # Every atom scoring above the k-th, then equal scores in id order wherever the atoms
        # sit: a maintained index ranks exactly as a rebuilt one.
        above, tied = values > kth, values == kth
        tied_rows = rows[tied]
        if self._ordered:  # of the main segment's ties only the first few can make the cut
            main_tied = tied_rows[tied_rows < len(self._main_ids)]
            tied_rows = np.concatenate(
                [main_tied[: k - int(above.sum())], tied_rows[len(main_tied) :]]
            )
        ids = self._all_ids
        scored = zip(rows[above].tolist(), values[above].tolist(), strict=True)
        hits = [(ids[r], v) for r, v in scored]
        hits += [(ids[r], kth) for r in tied_rows.tolist()]
        hits.sort(key=lambda h: (-h[1], h[0]))
        return hits[:k]

    def idf(self, token: str) -> float | None:
        """BM25's IDF of a term over the atoms; None for a term no atom has."""
        df = bm25.document_frequency(token, self._segments)
        return bm25.idf(df, self._stats.documents) if df else None

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self._main.save(directory, "main")
        self._delta.save(directory, "delta")
        np.save(directory / DEAD_FILE, self._dead)
        (directory / IDS_FILE).write_text(
            json.dumps({"main": self._main_ids, "delta": self._delta_tokens}, ensure_ascii=False)
        )

    @classmethod
    def load(cls, directory: Path) -> LexicalIndex:
        try:
            ids = json.loads((directory / IDS_FILE).read_text())
            if not isinstance(ids, dict):
                raise ValueError("an index of an earlier version (bm25s); sync it again")
            delta_tokens = dict(ids["delta"])
            return cls(
                bm25.Segment.load(directory, "main"),
                list(ids["main"]),
                dead=np.load(directory / DEAD_FILE),
                delta=bm25.Segment.load(directory, "delta"),
                delta_ids=list(delta_tokens),
                delta_tokens=delta_tokens,
            )
        except (FileNotFoundError, json.JSONDecodeError, ValueError, KeyError) as exc:
            raise IndexNotReadyError(
                f"No usable lexical index in {directory} ({exc}). Run `skg index sync --rebuild`."
            ) from exc


class LexicalRetriever:
    name = "lexical"

    def __init__(self, index: LexicalIndex) -> None:
        self._index = index

    def search(self, query: Query, top_k: int) -> list[Hit]:
        return [Hit(i, s, self.name) for i, s in self._index.search(query.search_tokens, top_k)]
