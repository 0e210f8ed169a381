"""Train the learned fusion (retrieval/retrievers/ranker.py) on dev splits only, and write
retrieval/retrievers/fusion_model.json.

Dev questions of every set: golden, colloquial and known-item over the sample knowledge (with
its graph), the CMRC 2018 trial's dev articles at sentence level, untitled and titled, and
the KdConv travel dev dialogues' grounded questions (retrieval.evaluation.beir.kdconv_to_beir). For
each question the served retrievers' lists give the candidates' features; the ranker is a
logistic regression on feature differences of (relevant, not relevant) pairs of the same
question, so it learns to order candidates within a question, whatever the question's scale.
The second stage is fitted the same way on the first stage's features plus its
pseudo-relevance feedback features (computed from the first stage's order); the answer's
confidence is fitted on the first stage. Test splits are never read. `make eval` then reports
every set.

    .venv/bin/python scripts/train_fusion.py [--pairs 6000] [--bags 8] [--c 1.0] [--no-prf]
        [--confidence-only] [--features dev.pkl]
"""

from __future__ import annotations

import argparse
import json
import pickle
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

import numpy as np
from sklearn.linear_model import LogisticRegression

from api import assembly
from api.evaluate import graph_for_corpus, merged, named_set
from api.settings import Settings
from retrieval.embedding.cached import CachedQueryEmbedder
from retrieval.evaluation.beir import BeirData, cmrc_to_beir, kdconv_to_beir, load_splits
from retrieval.evaluation.benchmark import corpus_bundle, embed_corpus
from retrieval.evaluation.ranking_metrics import ndcg_at
from retrieval.retrievers.confidence import ConfidenceModel, question_signals
from retrieval.retrievers.ranker import (
    FEATURES,
    MODEL_FILE,
    Candidates,
    FusionModel,
    candidate_features,
    prf_features,
)
from retrieval.served import served_retriever

ROOT = Path(__file__).resolve().parents[1]

DEPTH = 100
ANSWERABLE = {"golden", "colloquial"}
# Answerable questions of another corpus in the confidence's training, each weighing this much
# (chosen by cross-validation on dev: docs/retrieval.md, "Saying 'I don't know'").
OTHER_CORPORA = {"cmrc-titled", "cmrc-untitled", "kdconv"}
OTHER_CORPUS_WEIGHT = 0.1
HARD_NEGATIVES = 20  # negatives are drawn from this top of the fixed fusion half the time


class Asked(NamedTuple):
    """What a dev question's confidence signals read besides its candidates."""

    text: str
    recognised: list[str]  # surfaces of the entities recognised in it
    terms: list[str]  # its own lexical terms
    names: list[str]  # surfaces and names of those entities
    idf: dict[str, float | None]  # its terms' IDF
    tokens: dict[str, list[str]]  # atom id -> lexical terms, of its corpus


def dev_sets() -> list[tuple[str, BeirData, bool]]:
    """(name, data restricted to dev questions, whether it has a graph)."""
    golden_corpus = ROOT / "data" / "golden" / "corpus.jsonl"
    sales = merged(
        named_set(load_splits(ROOT / "data" / "golden", ("dev",)), "golden"),
        named_set(
            load_splits(ROOT / "data" / "colloquial", ("dev",), corpus=golden_corpus), "colloquial"
        ),
        named_set(
            load_splits(ROOT / "data" / "known_item", ("dev",), corpus=golden_corpus), "known_item"
        ),
    )
    cmrc = ROOT / "data" / "eval" / "cmrc2018" / "cmrc2018_trial.json"
    kdconv = ROOT / "data" / "eval" / "kdconv_travel"
    return [
        ("cmrc-untitled", cmrc_to_beir(cmrc, "sentence", titled=False).only("dev"), False),
        ("cmrc-titled", cmrc_to_beir(cmrc, "sentence", titled=True).only("dev"), False),
        (
            "kdconv",
            kdconv_to_beir(kdconv / "kb_travel.json", kdconv / "dev.json").only("dev"),
            False,
        ),
        ("sales", sales, True),
    ]


def unanswerable_dev() -> dict[str, str]:
    """The unanswerable set's dev questions (data/unanswerable: no atom answers them)."""
    rows = [
        json.loads(line)
        for line in (ROOT / "data" / "unanswerable" / "queries.jsonl").open(encoding="utf-8")
        if line.strip()
    ]
    return {r["_id"]: r["text"] for r in rows if r["metadata"]["split"] == "dev"}


def question_features(name: str, data: BeirData, graph: bool, embedder, cache: Path):
    """Per dev question: its set, candidates' features, relevance labels, judgments, what its
    confidence signals read (``Asked``) and its vectors. Questions without judgments (the
    unanswerable set, asked of the sales corpus) come with empty judgments."""
    snapshot = graph_for_corpus(data, ROOT / "data" / "samples")[1] if graph else None
    vectors, _ = embed_corpus(embedder, [d["text"] for d in data.corpus.values()], cache)
    bundle = corpus_bundle(data, vectors, embedder.name, snapshot)
    questions = CachedQueryEmbedder(embedder)
    # Only the member lists are needed: the fixed fusion stands in for the model being trained.
    analyzer, retriever = served_retriever(bundle, questions, method="weighted")
    asked = {q: data.queries[q] for q in data.qrels}
    if graph:
        asked |= {f"u:{q}": text for q, text in unanswerable_dev().items()}
    analyzed = {q: analyzer.analyze(text.strip()) for q, text in asked.items()}
    questions.prime(query.dense_text for query in analyzed.values())
    rows = []
    for qid, query in analyzed.items():
        lists = retriever.run_all(query, DEPTH)
        candidates = candidate_features(
            query.text,
            query.search_tokens,
            lists,
            lambda atom_id: bundle.tokens.get(atom_id, ()),
            bundle.lexical.idf,
            lambda atom_id: "\n".join(bundle.texts.get(atom_id, ())),
        )
        judged = data.qrels.get(qid, {})
        labels = np.array([judged.get(i, 0) > 0 for i in candidates.ids])
        label = "unanswerable" if qid.startswith("u:") else data.query_meta[qid].get("set", name)
        # What the second stage (pseudo-relevance feedback) needs: the question's vector and
        # the candidates' (fp16 here, to keep 1,500 questions' worth small).
        vectors = (
            questions.embed_query(query.dense_text),
            bundle.dense.vectors(candidates.ids).astype(np.float16),
        )
        rows.append(
            (
                label,
                candidates,
                labels,
                judged,
                Asked(
                    query.text,
                    [e.surface for e in query.entities],
                    list(query.tokens),
                    [n for e in query.entities for n in (e.surface, e.name)],
                    {t: bundle.lexical.idf(t) for t in query.tokens},
                    bundle.tokens,  # one mapping shared by the set's rows (pickled once)
                ),
                vectors,
            )
        )
    print(f"{name}: {len(rows)} dev questions", flush=True)
    return rows


def pairs(rows, per_set: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """About ``per_set`` pairs from each set, spread evenly over its questions, so that a large
    set (CMRC has 1,020 dev questions) does not outvote the sales sets."""
    rng = np.random.default_rng(seed)
    sizes: dict[str, int] = {}
    for label, *_ in rows:
        sizes[label] = sizes.get(label, 0) + 1
    diffs, signs = [], []
    fixed = FEATURES.index("fixed_fusion")
    for label, candidates, labels, *_ in rows:
        positive, negative = np.flatnonzero(labels), np.flatnonzero(~labels)
        if not len(positive) or not len(negative):
            continue
        # Half the negatives from near the top (what the ranking must get right), half any.
        order = np.argsort(-candidates.features[:, fixed])
        hard = np.array([i for i in order[:HARD_NEGATIVES] if not labels[i]]) if len(order) else []
        for k in range(max(1, round(per_set / sizes[label]))):
            pool = hard if k % 2 == 0 and len(hard) else negative
            p, n = rng.choice(positive), rng.choice(pool)
            diff = candidates.features[p] - candidates.features[n]
            diffs += [diff, -diff]
            signs += [1, 0]
    return np.asarray(diffs), np.asarray(signs)


def dev_ndcg(rows, score=None, member: int = 2) -> dict[str, float]:
    """nDCG@10 (binary) per set of the order ``score(features)`` gives, or of one member's
    order when ``score`` is None (feature 2: dense reciprocal rank; 4: lexical)."""
    by_set: dict[str, list[float]] = {}
    for label, candidates, _, judged, *_ in rows:
        if not judged:
            continue
        if score is None:
            order = np.argsort(-candidates.features[:, member], kind="stable")
        else:
            order = np.argsort(-score(candidates.features), kind="stable")
        ranking = [candidates.ids[i] for i in order]
        relevant = {d: 1 for d, g in judged.items() if g > 0}
        by_set.setdefault(label, []).append(ndcg_at(ranking, relevant))
    return {k: float(np.mean(v)) for k, v in by_set.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=6000, help="pairs sampled per set")
    parser.add_argument("--c", type=float, default=1.0, help="inverse L2 strength")
    parser.add_argument("--bags", type=int, default=8, help="fits averaged, each on its pairs")
    parser.add_argument("--seed", type=int, default=20261201)
    parser.add_argument(
        "--answer-rate", type=float, default=0.95, help="answerable dev questions to answer"
    )
    parser.add_argument(
        "--features", type=Path, help="keep the dev features in this file (refits are fast)"
    )
    parser.add_argument(
        "--no-prf", action="store_true", help="one stage, without pseudo-relevance feedback"
    )
    parser.add_argument(
        "--confidence-only",
        action="store_true",
        help="keep the shipped ranker; refit only the answer's confidence on it",
    )
    args = parser.parse_args()
    settings = Settings()
    cache = settings.home / "cache" / "embeddings"
    if args.features and args.features.exists():
        rows = pickle.loads(args.features.read_bytes())
    else:
        embedder = assembly.load_embedder(settings)
        rows = []
        for name, data, graph in dev_sets():
            rows += question_features(name, data, graph, embedder, cache)
        if args.features:
            args.features.write_bytes(pickle.dumps(rows))
    _fit_and_write(rows, args)


def _pairwise(rows, args) -> np.ndarray:
    """Weights of a linear ranker over the rows' features, fitted on pairs: the mean of
    ``args.bags`` fits, each on its own sample of pairs, so that the sample does not decide
    the model (one sample alone moved a set's dev nDCG@10 by up to 0.018)."""
    fits = []
    for bag in range(args.bags):
        x, y = pairs(rows, args.pairs, args.seed + bag)
        scale = x.std(axis=0) + 1e-6
        fit = LogisticRegression(C=args.c, max_iter=5000, fit_intercept=False).fit(x / scale, y)
        fits.append(fit.coef_[0] / scale)
    print(
        f"  {args.bags} x {len(y) // 2} pairs from {len(rows)} dev questions, {x.shape[1]} features"
    )
    return np.mean(fits, axis=0).astype(np.float32)


def second_stage(rows, first: np.ndarray):
    """The rows with the second stage's features appended, from the first stage's order."""
    out = []
    for label, candidates, labels, judged, meta, (query, vectors) in rows:
        extra = prf_features(candidates.features @ first, query, vectors.astype(np.float32))
        extended = Candidates(
            candidates.ids, np.hstack([candidates.features, extra]), candidates.signals
        )
        out.append((label, extended, labels, judged, meta, (query, vectors)))
    return out


def _fit_and_write(rows, args) -> None:
    if args.confidence_only:
        model = FusionModel.load()
        final = second_stage(rows, model.weights) if model.prf is not None else rows
    elif args.no_prf:
        first = _pairwise(rows, args)
        model = FusionModel(weights=first, trained_on=tuple(sorted({r[0] for r in rows})))
        final = rows
    else:
        first = _pairwise(rows, args)
        final = second_stage(rows, first)
        model = FusionModel(
            weights=first,
            trained_on=tuple(sorted({r[0] for r in rows})),
            prf=_pairwise(final, args),
        )
    # Confidence reads the first stage (retrieval/retrievers/hybrid.py).
    confidence = fit_confidence(rows, model.scores, args.answer_rate)
    score = model.scores if model.prf is None else model.rescored
    MODEL_FILE.write_text(
        json.dumps({**model.to_json(), "confidence": confidence.to_json()}, indent=1) + "\n",
        encoding="utf-8",
    )
    print(f"model written to {MODEL_FILE}")
    one = dev_ndcg(rows, model.scores)
    learned, dense, lexical = dev_ndcg(final, score), dev_ndcg(rows), dev_ndcg(rows, None, 4)
    for label in learned:
        print(
            f"  dev {label:<16} dense {dense[label]:.3f}  lexical {lexical[label]:.3f}  "
            f"first stage {one[label]:.3f}  learned {learned[label]:.3f}"
        )


def fit_confidence(rows, score, answer_rate: float) -> ConfidenceModel:
    """P(answerable) from question signals: golden and colloquial dev questions against the
    unanswerable dev questions, all asked of the sales corpus, plus the CMRC dev questions
    (answerable, asked of their own corpus, at ``OTHER_CORPUS_WEIGHT`` each) so that the
    model has seen answerable questions about knowledge other than ours. The threshold
    answers ``answer_rate`` of the answerable sales dev questions; the trade-off is printed."""
    x, groups = [], []
    for label, candidates, _, _, asked, _ in rows:
        if label not in ANSWERABLE and label != "unanswerable" and label not in OTHER_CORPORA:
            continue
        x.append(
            question_signals(
                candidates,
                score(candidates.features),
                asked.text,
                asked.recognised,
                terms=asked.terms,
                names=asked.names,
                atom_tokens=lambda atom_id, tokens=asked.tokens: tokens.get(atom_id, ()),
                idf=asked.idf.get,
            )
        )
        groups.append("sales" if label in ANSWERABLE else label)
    signals, group = np.asarray(x), np.asarray(groups)
    answerable = group != "unanswerable"
    weight = np.where(np.isin(group, list(OTHER_CORPORA)), OTHER_CORPUS_WEIGHT, 1.0)
    mean, scale = signals.mean(axis=0), signals.std(axis=0) + 1e-6
    fit = LogisticRegression(C=1.0, max_iter=5000).fit(
        (signals - mean) / scale, answerable, sample_weight=weight
    )
    confidence = ConfidenceModel(
        weights=fit.coef_[0].astype(np.float32),
        bias=float(fit.intercept_[0]),
        mean=mean.astype(np.float32),
        scale=scale.astype(np.float32),
        threshold=0.0,
    )
    p = np.array([confidence.probability(row) for row in signals])
    sales, unanswerable = group == "sales", group == "unanswerable"
    threshold = float(np.quantile(p[sales], 1 - answer_rate, method="lower"))
    print("  confidence on dev: threshold  answered(sales)  declined(unanswerable)  answered(CMRC)")
    for t in sorted({*np.round(np.linspace(0.05, 0.95, 19), 2), round(threshold, 3)}):
        other = np.isin(group, list(OTHER_CORPORA))
        print(
            f"    {t:5.3f}  {np.mean(p[sales] >= t):.3f}  {np.mean(p[unanswerable] < t):.3f}"
            f"  {np.mean(p[other] >= t):.3f}" + ("   <- chosen" if t == round(threshold, 3) else "")
        )
    return replace(confidence, threshold=threshold)


if __name__ == "__main__":
    main()
