"""How sure the knowledge is of an answer, so that SalesKG can say "I don't know".

A fused ranking always has a first atom, even for "asdfqwer zxcv" or an industry the
knowledge never covered. What tells a real answer from the nearest miss is the evidence of the
question as a whole: how well the best atoms match it by meaning (dense cosine), by its words
(coverage of its terms, phrases found verbatim), how much of the question the knowledge's
vocabulary knows at all, whether it names entities the graph has, how far the best
candidate stands out, and how many of the question's own words (those outside the entities it
names) its best atoms lack: "粤能新能源的注册资本是多少" finds atoms about 粤能新能源, none of
which says 注册资本. A logistic model over these signals gives a probability; below a
threshold chosen on dev splits (answer at least 95 % of answerable dev questions) the answer
declines and shows the nearest atoms as leads. Trained by ``scripts/train_fusion.py`` on the
answerable and unanswerable dev questions (data/unanswerable), shipped in the fusion model's
JSON.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from retrieval.retrievers.ranker import FEATURES, UNSEEN_IDF, Candidates

SIGNALS = (
    "best_fused",
    "fused_margin",
    "best_dense",
    "dense_margin",
    "best_coverage",
    "best_phrase",
    "known",
    "latin",
    "recognised",
    "graph_hits",
    "unknown_names",
    "asks_fact",
    "symbols",
    "best_dense_x_latin",
    "best_fused_x_latin",
    "uncovered_share",
    "uncovered_terms",
)
UNCOVERED_DEPTH = 3  # the question's own words are looked for in this many best atoms
# A company named in the question that the graph does not know (远景能源, 汇川技术): the
# knowledge cannot be about it, whatever atoms look similar.
_ORGANISATION = re.compile(
    r"[\u4e00-\u9fffA-Za-z0-9]{2,6}?(?:科技|技术|能源|汽车|集团|股份|医疗|电子|电气|机器人|"
    r"半导体|微电子|动力|制药|银行|证券|保险|地产|物流|零售|餐饮|教育|航空|重工|机械|材料|"
    r"化工|信息|软件|通信|电力|医院|大学|公司)"
)
# A question after one specific fact (a name, a number, a date), which related atoms rarely hold.
_FACT = re.compile(
    r"叫什么|名字|是谁|谁是|多少|几个|几年|几月|哪一年|哪年|哪天|什么时候|电话|地址|面积|预算|"
    r"价格|报价|多大|多高|多长|how much|how many|what is the name|who is|when did",
    re.IGNORECASE,
)
# Code and markup ('; DROP TABLE, [INST], <script>): a rep's question has almost none.
_SYMBOL = re.compile(r"[;\"'`=<>{}\[\]\\/|*#$%^&~_-]")
_COL = {name: i for i, name in enumerate(FEATURES)}


def question_signals(
    candidates: Candidates,
    scores: NDArray[Any],
    text: str,
    recognised: Sequence[str],
    *,
    terms: Sequence[str] = (),
    names: Sequence[str] = (),
    atom_tokens: Callable[[str], Collection[str]] = lambda _: (),
    idf: Callable[[str], float | None] = lambda _: None,
) -> NDArray[Any]:
    """The signals of one question (``SIGNALS`` order), from its candidates' features, their
    learned scores, its text and the surfaces of the entities recognised in it.

    Args:
        terms: its own lexical terms (without expansions or translations).
        names: the surfaces and names of the entities it names.
        atom_tokens: an atom's lexical terms.
        idf: a term's IDF in the knowledge, None for a term it never uses.
    """
    f = candidates.features
    unknown = sum(
        1
        for m in _ORGANISATION.finditer(text)
        if not any(surface and surface in m.group() for surface in recognised)
    )
    asks_fact = 1.0 if _FACT.search(text) else 0.0
    symbols = len(_SYMBOL.findall(text)) / max(len(text), 1)
    order = np.argsort(-scores, kind="stable")
    best = [candidates.ids[i] for i in order[:UNCOVERED_DEPTH]]
    share, missing = uncovered(terms, names, [atom_tokens(a) for a in best], idf)
    if not len(scores):
        row = [0.0] * len(SIGNALS)
        row[SIGNALS.index("known")] = candidates.signals.known
        row[SIGNALS.index("latin")] = candidates.signals.latin
        row[SIGNALS.index("unknown_names")] = float(unknown)
        row[SIGNALS.index("asks_fact")] = asks_fact
        row[SIGNALS.index("symbols")] = symbols
        row[SIGNALS.index("uncovered_share")] = share
        row[SIGNALS.index("uncovered_terms")] = missing
        return np.asarray(row, dtype=np.float32)
    top = order[0]
    second = order[1] if len(order) > 1 else order[0]
    dense = np.sort(f[:, _COL["dense_cos"]])[::-1]
    return np.asarray(
        [
            scores[top],
            scores[top] - scores[second],
            dense[0],
            dense[0] - (dense[9] if len(dense) > 9 else dense[-1]),
            candidates.signals.lexical_confidence,
            float(f[:, _COL["phrase"]].max()),
            candidates.signals.known,
            candidates.signals.latin,
            float(len(recognised)),
            float(f[:, _COL["graph_hit"]].sum()),
            float(unknown),
            asks_fact,
            symbols,
            dense[0] * candidates.signals.latin,
            scores[top] * candidates.signals.latin,
            share,
            missing,
        ],
        dtype=np.float32,
    )


def uncovered(
    terms: Sequence[str],
    names: Sequence[str],
    atoms: Sequence[Collection[str]],
    idf: Callable[[str], float | None],
) -> tuple[float, float]:
    """The question's own terms (not part of an entity it names) that none of ``atoms`` (the
    best atoms' terms) holds: their IDF-weighted share (a term the knowledge never uses weighs
    UNSEEN_IDF) and their number."""
    lowered = [n.lower() for n in names if n]
    own = [t for t in dict.fromkeys(terms) if not any(t in n or n in t for n in lowered)]
    if not own:
        return 0.0, 0.0
    held = set().union(*atoms) if atoms else set()
    weight = {t: idf(t) or UNSEEN_IDF for t in own}
    missing = [t for t in own if t not in held]
    return sum(weight[t] for t in missing) / sum(weight.values()), float(len(missing))


@dataclass(frozen=True)
class ConfidenceModel:
    """Logistic regression over standardised question signals, and the decision threshold."""

    weights: NDArray[Any]
    bias: float
    mean: NDArray[Any]
    scale: NDArray[Any]
    threshold: float

    def probability(self, signals: NDArray[Any]) -> float:
        z = float(((signals - self.mean) / self.scale) @ self.weights + self.bias)
        return 1.0 / (1.0 + float(np.exp(-z)))

    def to_json(self) -> dict[str, object]:
        return {
            "signals": list(SIGNALS),
            "weights": [round(float(w), 6) for w in self.weights],
            "bias": round(self.bias, 6),
            "mean": [round(float(m), 6) for m in self.mean],
            "scale": [round(float(s), 6) for s in self.scale],
            "threshold": round(self.threshold, 4),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> ConfidenceModel:
        if data.get("signals") != list(SIGNALS):
            raise ValueError("the confidence model was trained on other signals; retrain it")

        def floats(key: str) -> NDArray[Any]:
            values = data.get(key)
            if not isinstance(values, list) or len(values) != len(SIGNALS):
                raise ValueError(f"the confidence model's {key!r} is malformed")
            return np.asarray(values, dtype=np.float32)

        return cls(
            weights=floats("weights"),
            bias=float(data.get("bias", 0.0)),  # type: ignore[arg-type]
            mean=floats("mean"),
            scale=floats("scale"),
            threshold=float(data.get("threshold", 0.5)),  # type: ignore[arg-type]
        )
