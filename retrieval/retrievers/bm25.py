"""BM25 over segments, scored exactly: a large main segment, a small delta segment, and
tombstones over the main one (issue 15).

Term frequencies and document lengths are kept, not precomputed scores, so a question is
scored with the statistics of what is live now (document count, average length, each term's
document frequency) whatever segment an atom sits in: an index maintained by segments ranks
exactly as one rebuilt from scratch. The formula is bm25s's default ("lucene": k1 1.5, b 0.75,
idf ``log(1 + (N - df + 0.5) / (df + 0.5))``), which the lexical index used before.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

K1 = 1.5
B = 0.75
EMPTY = "∅"  # the one token of an atom with none (it still counts towards the lengths)


@dataclass(frozen=True)
class Segment:
    """Documents ``0..n-1`` as a term-major sparse matrix of term frequencies."""

    vocab: dict[str, int]
    indptr: NDArray[Any]  # int64, len(vocab) + 1: column t is rows[indptr[t]:indptr[t + 1]]
    rows: NDArray[Any]  # int32 document rows
    tf: NDArray[Any]  # float32 term frequencies
    lengths: NDArray[Any]  # int64 tokens per document

    @classmethod
    def build(cls, docs: Sequence[Sequence[str]]) -> Segment:
        vocab: dict[str, int] = {}
        term_ids = [[vocab.setdefault(t, len(vocab)) for t in (d or [EMPTY])] for d in docs]
        lengths = np.fromiter((len(t) for t in term_ids), dtype=np.int64, count=len(term_ids))
        n = len(term_ids)
        if not n:
            return cls.empty()
        flat = np.fromiter(
            itertools.chain.from_iterable(term_ids), dtype=np.int64, count=int(lengths.sum())
        )
        doc = np.repeat(np.arange(n, dtype=np.int64), lengths)
        keys, counts = np.unique(flat * n + doc, return_counts=True)
        terms = keys // n
        indptr = np.zeros(len(vocab) + 1, dtype=np.int64)
        np.cumsum(np.bincount(terms, minlength=len(vocab)), out=indptr[1:])
        return cls(vocab, indptr, (keys % n).astype(np.int32), counts.astype(np.float32), lengths)

    @classmethod
    def empty(cls) -> Segment:
        return cls(
            {},
            np.zeros(1, dtype=np.int64),
            np.zeros(0, dtype=np.int32),
            np.zeros(0, dtype=np.float32),
            np.zeros(0, dtype=np.int64),
        )

    def __len__(self) -> int:
        return len(self.lengths)

    def column(self, term: str) -> tuple[NDArray[Any], NDArray[Any]] | None:
        t = self.vocab.get(term)
        if t is None:
            return None
        start, end = self.indptr[t], self.indptr[t + 1]
        return self.rows[start:end], self.tf[start:end]

    def save(self, directory: Path, name: str) -> None:
        np.savez(
            directory / f"{name}.npz",
            indptr=self.indptr,
            rows=self.rows,
            tf=self.tf,
            lengths=self.lengths,
        )
        (directory / f"{name}.vocab.json").write_text(json.dumps(self.vocab, ensure_ascii=False))

    @classmethod
    def load(cls, directory: Path, name: str) -> Segment:
        arrays = np.load(directory / f"{name}.npz")
        vocab = json.loads((directory / f"{name}.vocab.json").read_text())
        return cls(vocab, arrays["indptr"], arrays["rows"], arrays["tf"], arrays["lengths"])


@dataclass(frozen=True)
class Stats:
    """What BM25 needs of the live documents as a whole."""

    documents: int
    average_length: float


def stats(segments: Sequence[tuple[Segment, NDArray[Any] | None]]) -> Stats:
    """Over (segment, tombstones or None) pairs."""
    n = total = 0
    for segment, dead in segments:
        live = segment.lengths if dead is None else segment.lengths[~dead]
        n += len(live)
        total += int(live.sum())
    return Stats(n, total / n if n else 0.0)


def document_frequency(term: str, segments: Sequence[tuple[Segment, NDArray[Any] | None]]) -> int:
    df = 0
    for segment, dead in segments:
        column = segment.column(term)
        if column is not None:
            rows = column[0]
            df += len(rows) if dead is None else int(len(rows) - dead[rows].sum())
    return df


def idf(df: int, documents: int) -> float:
    return float(np.log(1 + (documents - df + 0.5) / (df + 0.5)))


def score(
    terms: Sequence[str], segments: Sequence[tuple[Segment, NDArray[Any] | None]], at: Stats
) -> list[NDArray[Any]]:
    """Each segment's document scores for the query ``terms`` (a repeated term counts again);
    dead documents score 0."""
    out: list[NDArray[Any]] = [np.zeros(len(segment), dtype=np.float64) for segment, _ in segments]
    if not at.documents:
        return out
    for term in terms:
        df = document_frequency(term, segments)
        if not df:
            continue
        weight = idf(df, at.documents)
        for (segment, dead), scores in zip(segments, out, strict=True):
            column = segment.column(term)
            if column is None:
                continue
            rows, tf = column
            norm = K1 * (1 - B + B * segment.lengths[rows] / at.average_length)
            contribution = weight * tf / (tf + norm)
            if dead is not None:
                contribution = np.where(dead[rows], 0.0, contribution)
            scores[rows] += contribution
    return out
