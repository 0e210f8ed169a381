"""BM25 over segments, scored exactly: a large main segment, a small delta segment, and
tombstones over the main one (issue 15). A search skips the postings of common terms for the
documents that can no longer reach the top k (MaxScore pruning, ``top``); the top k and
their scores are those of scoring every posting.

Term frequencies and document lengths are kept, not precomputed scores, so a question is
scored with the statistics of what is live now (document count, average length, each term's
document frequency) whatever segment an atom sits in: an index maintained by segments ranks
exactly as one rebuilt from scratch. The formula is bm25s's default ("lucene": k1 1.5, b 0.75,
idf ``log(1 + (N - df + 0.5) / (df + 0.5))``), which the lexical index used before.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

K1 = 1.5
B = 0.75
BOUNDS_CHUNK = 1 << 20  # postings per step in column_bounds
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


def column_bounds(segment: Segment) -> tuple[NDArray[Any], NDArray[Any]]:
    """Each term's largest frequency and the shortest document holding it: with them a term's
    contribution to any one document is bounded (``top``'s pruning)."""
    starts = segment.indptr[:-1]
    if not len(starts):
        return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
    max_tf = np.maximum.reduceat(segment.tf, starts)
    min_length = np.empty(len(starts), dtype=np.int64)
    # By runs of columns, so the lengths gathered per posting never take more than a few MB.
    step = max(1, len(starts) * BOUNDS_CHUNK // max(1, len(segment.rows)))
    for first in range(0, len(starts), step):
        last = min(len(starts), first + step)
        lo, hi = segment.indptr[first], segment.indptr[last]
        min_length[first:last] = np.minimum.reduceat(
            segment.lengths[segment.rows[lo:hi]], starts[first:last] - lo
        )
    return max_tf, min_length


def _contribution(
    weight: float, tf: NDArray[Any], lengths: NDArray[Any], at: Stats
) -> NDArray[Any]:
    return weight * tf / (tf + K1 * (1 - B + B * lengths / at.average_length))


def top(
    terms: Sequence[str],
    segments: Sequence[tuple[Segment, NDArray[Any] | None]],
    at: Stats,
    k: int,
    bounds: tuple[NDArray[Any], NDArray[Any]] | None = None,
) -> list[tuple[NDArray[Any], NDArray[Any]]]:
    """Per segment, the rows and exact scores of the documents that may rank in the top ``k``
    for the query ``terms`` (a repeated term counts again); dead documents never do.

    Terms are added rarest first. With the first segment's ``bounds`` (``column_bounds``),
    once the terms left could not lift a document the first segment has not scored above the
    k-th best score so far (MaxScore), the rest are added only to the documents still in reach,
    by binary search in their postings; every document that can reach the top k is scored
    exactly as without pruning, in the same order. Without ``bounds``, every posting counts.
    """
    out: list[tuple[NDArray[Any], NDArray[Any]]] = [
        (np.zeros(0, dtype=np.int64), np.zeros(0)) for _ in segments
    ]
    if not at.documents or not terms:
        return out
    weights: dict[str, float] = {}
    for term in terms:
        if term not in weights:
            df = document_frequency(term, segments)
            weights[term] = idf(df, at.documents) if df else 0.0
    counts = Counter(terms)
    order = sorted((t for t in weights if weights[t] > 0), key=lambda t: (-weights[t], t))
    (main, main_dead), rest = segments[0], segments[1:]
    reach = _reach(order, weights, counts, main, bounds, at)
    scores = [np.zeros(len(segment)) for segment, _ in segments]
    candidates: NDArray[Any] | None = None  # main rows still in reach, once pruning starts
    widest: NDArray[Any] | None = None  # the rows of the longest column scored in full
    for i, term in enumerate(order):
        for _ in range(counts[term]):
            for (segment, dead), seg_scores in zip(rest, scores[1:], strict=True):
                _add(term, weights[term], segment, dead, seg_scores, at)
            if candidates is None:
                rows = _add(term, weights[term], main, main_dead, scores[0], at)
                if rows is not None and (widest is None or len(rows) > len(widest)):
                    widest = rows
            else:
                _add_to(term, weights[term], main, candidates, scores[0], at)
        if bounds is not None:
            candidates = _in_reach(scores[0], candidates, widest, reach[i + 1], reach[0], k)
    main_rows = np.flatnonzero(scores[0]) if candidates is None else candidates
    out[0] = (main_rows, scores[0][main_rows])
    for j, seg_scores in enumerate(scores[1:], start=1):
        rows = np.flatnonzero(seg_scores)
        out[j] = (rows, seg_scores[rows])
    return out


def _reach(
    order: Sequence[str],
    weights: dict[str, float],
    counts: Counter[str],
    main: Segment,
    bounds: tuple[NDArray[Any], NDArray[Any]] | None,
    at: Stats,
) -> NDArray[Any]:
    """``reach[i]``: the most the terms from ``order[i]`` on can add to a main document."""
    reach = np.zeros(len(order) + 1)
    if bounds is None:
        return reach
    max_tf, min_length = bounds
    for i, term in enumerate(order):
        t = main.vocab.get(term)
        if t is not None:
            bound = _contribution(weights[term], max_tf[t : t + 1], min_length[t : t + 1], at)
            reach[i] = counts[term] * float(bound[0])
    # A margin for float error (the term frequencies are float32).
    return np.cumsum(reach[::-1])[::-1] * (1 + 1e-6) + 1e-12


def _in_reach(
    scores: NDArray[Any],
    candidates: NDArray[Any] | None,
    widest: NDArray[Any] | None,
    left: float,
    total: float,
    k: int,
) -> NDArray[Any] | None:
    """The main rows that can still reach the top ``k`` when the terms left can add at most
    ``left`` (of ``total``) to a document; None while that is every row that scored."""
    if left <= 0:
        return candidates
    if candidates is not None:
        kth = _kth(scores[candidates], k)
        return candidates if kth is None else candidates[scores[candidates] + left >= kth]
    # The k-th best among one column's documents is at most the k-th best of all: a bound
    # found without a pass over the whole segment.
    if widest is None or left >= total - left:
        return None
    kth = _kth(scores[widest], k)
    if kth is None or left >= kth:
        return None
    return np.flatnonzero(scores + left >= kth)


def _kth(values: NDArray[Any], k: int) -> float | None:
    """The k-th largest of ``values``; None when there are fewer than k."""
    if len(values) < k:
        return None
    return float(np.partition(values, len(values) - k)[len(values) - k])


def _add(
    term: str,
    weight: float,
    segment: Segment,
    dead: NDArray[Any] | None,
    scores: NDArray[Any],
    at: Stats,
) -> NDArray[Any] | None:
    """Adds the term to every document of the segment holding it; returns their rows."""
    column = segment.column(term)
    if column is None:
        return None
    rows, tf = column
    contribution = _contribution(weight, tf, segment.lengths[rows], at)
    if dead is not None:
        contribution = np.where(dead[rows], 0.0, contribution)
    scores[rows] += contribution
    return rows


def _add_to(
    term: str,
    weight: float,
    segment: Segment,
    candidates: NDArray[Any],
    scores: NDArray[Any],
    at: Stats,
) -> None:
    """``_add`` for the ``candidates`` rows only (sorted, live), found in the term's sorted
    postings by binary search."""
    column = segment.column(term)
    if column is None or not len(candidates):
        return
    rows, tf = column
    at_row = np.searchsorted(rows, candidates)
    inside = at_row < len(rows)
    found = np.zeros(len(candidates), dtype=bool)
    found[inside] = rows[at_row[inside]] == candidates[inside]
    hit = candidates[found]
    scores[hit] += _contribution(weight, tf[at_row[found]], segment.lengths[hit], at)
