"""Learned fusion: a linear ranker over each candidate's evidence from every retriever, with
the question's own signals, so that it trusts lexical evidence when an atom covers the
question's words (a typed phrase, a term) and dense evidence when nothing does (paraphrase,
English, a different wording).

Fixed weights over min-max scaled scores could not do both: on questions that repeat an
atom's words they lost to BM25 alone, on paraphrases to the dense retriever alone
(docs/retrieval.md). Features per candidate (the union of every retriever's top ``depth``):

- dense: cosine, its gap to the best cosine, reciprocal rank;
- lexical: BM25 as a share of the best, reciprocal rank, and **coverage**: the IDF-weighted
  share of the question's terms the atom contains;
- graph: score as a share of the best, and whether the atom was reached at all;
- the earlier fixed fusion: dense and BM25 scores min-max scaled within their lists, and
  their weighted sum (dense 1.0, lexical 0.5, graph 0.2), which stretches e5's narrow band of
  cosines and is hard to beat on natural questions;
- phrase: the share of the question's phrases (runs of four or more characters between
  punctuation) the atom contains verbatim: a rep who types a phrase remembered from an atom
  finds that atom first;
- the question: how much Latin script it has (English finds few BM25 terms in Chinese
  atoms), how much of it the knowledge's vocabulary knows, and **lexical confidence**: the
  best coverage any candidate reaches. Interactions with these let one linear model weigh
  lexical evidence up where a candidate matches the whole question and down where none does.

A second stage (pseudo-relevance feedback, ``prf_features``) adds three features from the
first stage's order: each candidate's cosine to the question's vector plus the mean vector of
the first stage's best atoms, so atoms like those the question is surely about come up even
where its wording missed them; a second linear model ranks with all of them.

Both stages are trained pairwise (relevant vs. not, within a question) on dev splits only, by
``scripts/train_fusion.py``, and shipped as JSON (``retrieval/retrievers/fusion_model.json``).
Serving them is two matrix products over a few hundred candidates and reading those
candidates' vectors back from FAISS.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from retrieval.retrievers.base import Hit

if TYPE_CHECKING:
    from retrieval.retrievers.confidence import ConfidenceModel

MODEL_FILE = Path(__file__).with_name("fusion_model.json")
_LATIN = re.compile(r"[A-Za-z]")
_CJK = re.compile(r"[\u4e00-\u9fff]")
_PHRASE_BREAK = re.compile(r"[\s,，.。?？!！、;；:：\"“”'‘’()（）【】\[\]<>《》]+")
MIN_PHRASE_CHARS = 4
UNSEEN_IDF = 8.0  # a question's term the knowledge never uses weighs like a rare one

FEATURES = (
    "dense_cos",
    "dense_gap",
    "dense_rr",
    "lex_share",
    "lex_rr",
    "coverage",
    "graph_share",
    "graph_hit",
    "lex_share_x_latin",
    "coverage_x_latin",
    "dense_gap_x_latin",
    "lex_share_x_known",
    "coverage_x_known",
    "dense_gap_x_known",
    "lex_share_x_conf",
    "lex_rr_x_conf",
    "coverage_x_conf",
    "dense_gap_x_doubt",
    "dense_rr_x_doubt",
    "lex_share_x_conf4",
    "coverage_x_conf4",
    "dense_rr_x_latin",
    "phrase",
    "phrase_x_best",
    "dense_minmax",
    "lex_minmax",
    "fixed_fusion",
)


# Pseudo-relevance feedback, the second stage: the question's vector plus the mean of the
# vectors of the first stage's best atoms, scored against every candidate (docs/retrieval.md).
PRF_DEPTH = 3
PRF_WEIGHT = 1.0
PRF_FEATURES = ("prf_cos", "prf_gap", "prf_rr")


@dataclass(frozen=True)
class QuerySignals:
    """What a question says about which evidence to trust."""

    latin: float  # share of its letters that are Latin script
    known: float  # IDF-weighted share of its terms found anywhere in the knowledge
    lexical_confidence: float  # the best coverage of its terms by any candidate


@dataclass
class Candidates:
    """One question's candidates and their features (rows in ``ids`` order)."""

    ids: list[str]
    features: NDArray[Any]
    signals: QuerySignals


def candidate_features(
    text: str,
    tokens: Sequence[str],
    lists: Mapping[str, Sequence[Hit]],
    atom_tokens: Callable[[str], Collection[str]],
    idf: Callable[[str], float | None],
    atom_text: Callable[[str], str] = lambda _: "",
) -> Candidates:
    """Feature rows for every atom any retriever returned (see the module docstring).

    Args:
        tokens: the question's lexical terms (expansions included).
        atom_tokens: an atom's lexical terms (a set is used as it is).
        idf: a term's IDF in the knowledge, None for a term it never uses.
        atom_text: an atom's title and text.
    """
    dense = {h.atom_id: (rank, h.score) for rank, h in enumerate(lists.get("dense", []), start=1)}
    lexical = {
        h.atom_id: (rank, h.score) for rank, h in enumerate(lists.get("lexical", []), start=1)
    }
    graph = {h.atom_id: h.score for h in lists.get("graph", [])}
    ids = list(dict.fromkeys([*dense, *lexical, *graph]))
    weights = {t: idf(t) for t in dict.fromkeys(tokens)}
    known_total = sum(w for w in weights.values() if w is not None)
    all_total = sum(w if w is not None else UNSEEN_IDF for w in weights.values())
    terms = {t: w for t, w in weights.items() if w is not None}
    coverage = np.array(
        [_coverage(terms, known_total, atom_tokens(atom_id)) for atom_id in ids], dtype=np.float32
    )
    latin, cjk = len(_LATIN.findall(text)), len(_CJK.findall(text))
    signals = QuerySignals(
        latin=latin / (latin + cjk) if latin + cjk else 0.0,
        known=known_total / all_total if all_total else 0.0,
        lexical_confidence=float(coverage.max()) if len(coverage) else 0.0,
    )
    dense_top = max((s for _, s in dense.values()), default=0.0)
    dense_floor = min((s for _, s in dense.values()), default=0.0)
    lex_top = max((s for _, s in lexical.values()), default=0.0) or 1.0
    graph_top = max(graph.values(), default=0.0) or 1.0
    # Columns built whole (in float64, then stored as float32, as row by row before).
    n = len(ids)
    d_hits, l_hits = [dense.get(i) for i in ids], [lexical.get(i) for i in ids]
    d_rank = np.fromiter((h[0] if h else 0 for h in d_hits), np.float64, n)
    d_score = np.fromiter((h[1] if h else dense_floor for h in d_hits), np.float64, n)
    l_rank = np.fromiter((h[0] if h else 0 for h in l_hits), np.float64, n)
    l_score = np.fromiter((h[1] if h else 0.0 for h in l_hits), np.float64, n)
    g_score = np.fromiter((graph.get(i, 0.0) for i in ids), np.float64, n)
    with np.errstate(divide="ignore"):
        d_rr = np.where(d_rank > 0, 1.0 / d_rank, 0.0)
        l_rr = np.where(l_rank > 0, 1.0 / l_rank, 0.0)
    base = np.stack(
        [
            d_score,
            d_score - dense_top,
            d_rr,
            l_score / lex_top,
            l_rr,
            coverage,
            g_score / graph_top,
            np.fromiter((i in graph for i in ids), np.float64, n),
        ],
        axis=1,
    ).astype(np.float32)
    phrases = [p for p in _PHRASE_BREAK.split(text.lower()) if len(p) >= MIN_PHRASE_CHARS]
    phrase = np.zeros(len(ids), dtype=np.float32)
    if phrases:
        for row, atom_id in enumerate(ids):
            body = atom_text(atom_id).lower()
            phrase[row] = sum(p in body for p in phrases) / len(phrases)
    dense_gap, dense_rr, lex_share, lex_rr = base[:, 1], base[:, 2], base[:, 3], base[:, 4]
    dense_mm = _minmax(base[:, 0], [row for row, h in enumerate(d_hits) if h])
    lex_mm = _minmax(l_score.astype(np.float32), [row for row, h in enumerate(l_hits) if h])
    conf, lat, known = signals.lexical_confidence, signals.latin, signals.known
    extra = np.stack(
        [
            lex_share * lat,
            coverage * lat,
            dense_gap * lat,
            lex_share * known,
            coverage * known,
            dense_gap * known,
            lex_share * conf,
            lex_rr * conf,
            coverage * conf,
            dense_gap * (1 - conf),
            dense_rr * (1 - conf),
            lex_share * conf**4,
            coverage * conf**4,
            dense_rr * lat,
            phrase,
            phrase * (phrase.max() if len(phrase) else 0.0),
            dense_mm,
            lex_mm,
            dense_mm + 0.5 * lex_mm + 0.2 * base[:, 6],
        ],
        axis=1,
    )
    return Candidates(ids, np.hstack([base, extra]) if len(ids) else extra, signals)


def prf_features(first: NDArray[Any], query: NDArray[Any], vectors: NDArray[Any]) -> NDArray[Any]:
    """The second stage's features (``PRF_FEATURES``) of every candidate.

    Args:
        first: the first stage's scores of the candidates.
        query: the question's unit vector, as the dense retriever embedded it.
        vectors: the candidates' unit vectors (rows in candidate order; zeros where an atom has
            none, which then scores as the lowest that has one).
    """
    n = len(first)
    if not n:
        return np.zeros((0, len(PRF_FEATURES)), dtype=np.float32)
    top = np.argsort(-first, kind="stable")[:PRF_DEPTH]
    feedback = query + PRF_WEIGHT * vectors[top].mean(axis=0)
    norm = float(np.linalg.norm(feedback))
    cosine = vectors @ (feedback / norm if norm else feedback)
    present = vectors.any(axis=1)
    cosine = np.where(present, cosine, cosine[present].min() if present.any() else 0.0)
    rank = np.empty(n)
    rank[np.argsort(-cosine, kind="stable")] = np.arange(1, n + 1)
    return np.stack([cosine, cosine - cosine.max(), 1.0 / rank], axis=1).astype(np.float32)


def _minmax(values: NDArray[Any], listed: list[int]) -> NDArray[Any]:
    """Scaled to [0, 1] by the range of the rows the retriever listed; 0 for the others."""
    out = np.zeros(len(values), dtype=np.float32)
    if not listed:
        return out
    low, high = float(values[listed].min()), float(values[listed].max())
    out[listed] = (values[listed] - low) / (high - low) if high > low else 1.0
    return out


def _coverage(terms: Mapping[str, float], total: float, atom_tokens: Collection[str]) -> float:
    if not total:
        return 0.0
    present = atom_tokens if isinstance(atom_tokens, (set, frozenset)) else set(atom_tokens)
    return sum(w for t, w in terms.items() if t in present) / total


@dataclass(frozen=True)
class FusionModel:
    """A linear ranker: a candidate's score is ``features @ weights``; with ``prf`` weights a
    second stage scores ``FEATURES`` and ``PRF_FEATURES`` together, the pseudo-relevance
    feedback taken from the first stage's order."""

    weights: NDArray[Any]
    trained_on: tuple[str, ...] = ()
    prf: NDArray[Any] | None = None

    def scores(self, features: NDArray[Any]) -> NDArray[Any]:
        return features @ self.weights if len(features) else np.zeros(0, dtype=np.float32)

    def rescored(self, extended: NDArray[Any]) -> NDArray[Any]:
        """The second stage's scores of rows of ``FEATURES`` then ``PRF_FEATURES``."""
        if self.prf is None:
            raise ValueError("this fusion model has no second stage")
        return extended @ self.prf if len(extended) else np.zeros(0, dtype=np.float32)

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {
            "features": list(FEATURES),
            "weights": [round(float(w), 6) for w in self.weights],
            "trained_on": list(self.trained_on),
        }
        if self.prf is not None:
            data["prf"] = {
                "features": [*FEATURES, *PRF_FEATURES],
                "weights": [round(float(w), 6) for w in self.prf],
            }
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> FusionModel:
        features = data.get("features")
        if not isinstance(features, list) or features != list(FEATURES):
            raise ValueError("the fusion model was trained on other features; retrain it")
        weights = data.get("weights")
        if not isinstance(weights, list) or len(weights) != len(FEATURES):
            raise ValueError("the fusion model has no weight for every feature")
        trained = data.get("trained_on", [])
        return cls(
            weights=np.asarray(weights, dtype=np.float32),
            trained_on=tuple(str(t) for t in trained) if isinstance(trained, list) else (),
            prf=_prf_weights(data.get("prf")),
        )

    @classmethod
    def load(cls, path: Path = MODEL_FILE) -> FusionModel:
        return cls.from_json(json.loads(path.read_text(encoding="utf-8")))


def _prf_weights(data: object) -> NDArray[Any] | None:
    if data is None:
        return None
    names = [*FEATURES, *PRF_FEATURES]
    if not isinstance(data, dict) or data.get("features") != names:
        raise ValueError("the fusion model's second stage was trained on other features")
    weights = data.get("weights")
    if not isinstance(weights, list) or len(weights) != len(names):
        raise ValueError("the fusion model's second stage has no weight for every feature")
    return np.asarray(weights, dtype=np.float32)


def load_confidence(path: Path = MODEL_FILE) -> ConfidenceModel | None:
    """The shipped confidence model (trained with the fusion), or None when there is none."""
    from retrieval.retrievers.confidence import ConfidenceModel

    data = json.loads(path.read_text(encoding="utf-8"))
    return ConfidenceModel.from_json(data["confidence"]) if "confidence" in data else None
