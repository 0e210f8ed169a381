"""Indexes kept by segments rank exactly as indexes rebuilt from scratch (issue 15)."""

from __future__ import annotations

import random

import numpy as np
import pytest

from retrieval.retrievers.dense import FaissIndex
from retrieval.retrievers.lexical import LexicalIndex

pytestmark = pytest.mark.unit

WORDS = [f"词{i}" for i in range(300)]


def _corpus(rng: random.Random, n: int) -> dict[str, list[str]]:
    return {
        f"atom-{i:05d}": [
            rng.choice(WORDS[: rng.randint(20, 300)]) for _ in range(rng.randint(0, 30))
        ]
        for i in range(n)
    }


def _vectors(rng: np.random.Generator, ids: list[str]) -> dict[str, np.ndarray]:
    v = rng.normal(size=(len(ids), 16)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return dict(zip(ids, v, strict=True))


def _changes(rng: random.Random, corpus: dict[str, list[str]], step: int):
    ids = sorted(corpus)
    edited = {a: _corpus(rng, 1)["atom-00000"] for a in rng.sample(ids, 5)}
    added = {f"new-{step}-{i}": _corpus(rng, 1)["atom-00000"] for i in range(4)}
    removed = set(rng.sample([a for a in ids if a not in edited], 3))
    return {**edited, **added}, removed


def test_lexical_segments_rank_as_a_rebuild() -> None:
    rng = random.Random(7)
    corpus = _corpus(rng, 400)
    index = LexicalIndex.from_tokens(list(corpus), list(corpus.values()))
    for step in range(6):
        upserts, removed = _changes(rng, corpus, step)
        index = index.with_changes(upserts, removed)
        corpus.update(upserts)
        for a in removed:
            del corpus[a]
    assert index.delta_size > 0 and index.dead_count > 0
    ids = sorted(corpus)
    rebuilt = LexicalIndex.from_tokens(ids, [corpus[a] for a in ids])
    assert sorted(index.ids) == ids
    for _ in range(50):
        query = [rng.choice(WORDS) for _ in range(rng.randint(1, 4))]
        got, want = index.search(query, 10), rebuilt.search(query, 10)
        assert [a for a, _ in got] == [a for a, _ in want], query
        assert np.allclose([s for _, s in got], [s for _, s in want], rtol=0, atol=1e-12)
        assert index.idf(query[0]) == rebuilt.idf(query[0])
    merged = index.merged(corpus)
    assert merged.delta_size == 0 and merged.search(["词3"], 10) == rebuilt.search(["词3"], 10)


def test_lexical_scores_match_bm25s() -> None:
    import bm25s

    rng = random.Random(3)
    corpus = _corpus(rng, 200)
    ours = LexicalIndex.from_tokens(list(corpus), list(corpus.values()))
    theirs = bm25s.BM25()
    theirs.index([t or ["∅"] for t in corpus.values()], show_progress=False)
    query = ["词1", "词2", "词40"]
    expected = theirs.get_scores(query)
    for atom_id, score in ours.search(query, 20):
        assert score == pytest.approx(float(expected[list(corpus).index(atom_id)]), rel=1e-5)


def test_dense_segments_rank_as_a_rebuild() -> None:
    rng = random.Random(11)
    nrng = np.random.default_rng(11)
    corpus = _corpus(rng, 300)
    vectors = _vectors(nrng, sorted(corpus))
    ids = sorted(vectors)
    index = FaissIndex.build(ids, [1] * len(ids), np.asarray([vectors[a] for a in ids]), "m")
    versions = dict.fromkeys(ids, 1)
    for step in range(5):
        upserts, removed = _changes(rng, corpus, step)
        fresh = _vectors(nrng, list(upserts))
        changes = {a: (versions.get(a, 0) + 1, fresh[a]) for a in upserts}
        index = index.with_changes(changes, removed)
        for a in upserts:
            corpus[a], vectors[a], versions[a] = upserts[a], fresh[a], changes[a][0]
        for a in removed:
            del corpus[a], vectors[a], versions[a]
    ids = sorted(vectors)
    rebuilt = FaissIndex.build(
        ids, [versions[a] for a in ids], np.asarray([vectors[a] for a in ids]), "m"
    )
    assert index.dead_count > 0 and index.delta_size > 0
    assert dict(zip(index.ids, index.versions, strict=True)) == versions
    for query in _vectors(nrng, [f"q{i}" for i in range(40)]).values():
        assert index.search(query, 10) == rebuilt.search(query, 10)
    merged = index.merged()
    assert merged.delta_size == 0 and merged.dead_count == 0
    assert merged.ids == ids


def test_hnsw_main_segment_skips_dead_rows() -> None:
    import faiss

    nrng = np.random.default_rng(5)
    ids = [f"atom-{i:04d}" for i in range(500)]
    vectors = _vectors(nrng, ids)
    hnsw = faiss.IndexHNSWFlat(16, 16, faiss.METRIC_INNER_PRODUCT)
    hnsw.add(np.asarray([vectors[a] for a in ids]))
    index = FaissIndex(hnsw, ids, [1] * len(ids), "m")
    query = vectors["atom-0007"]
    assert index.search(query, 1)[0][0] == "atom-0007"
    changed = index.with_changes({"new": (1, query)}, ["atom-0007"])
    got = changed.search(query, 5)
    assert got[0][0] == "new" and "atom-0007" not in [a for a, _ in got]
    assert index.search(query, 1)[0][0] == "atom-0007", "the older generation is untouched"


def test_graph_snapshot_deltas_match_a_rebuild() -> None:
    from retrieval.retrievers.graph import GraphSnapshot

    meta = {"type": "case", "status": "approved", "visibility": "public", "team": "", "owner": ""}
    mentions = [("a1", "e1"), ("a2", "e1"), ("a2", "e2"), ("a3", "e2")]
    snapshot = GraphSnapshot.build([], [], mentions, dict.fromkeys(["a1", "a2", "a3"], meta))
    assert snapshot.atom_entities()["a2"] == ["e1", "e2"]
    changed = snapshot.with_atoms(
        {"a2": meta, "a3": None, "a4": meta},
        {"a2": ["e2"], "a4": ["e1", "e3"]},
        {"a2": "d1", "a4": "d2"},
        {"a4": 0.5},
    )
    rebuilt = GraphSnapshot.build(
        [],
        [],
        [("a1", "e1"), ("a2", "e2"), ("a4", "e1"), ("a4", "e3")],
        dict.fromkeys(["a1", "a2", "a4"], meta),
    )
    assert changed.mentions == rebuilt.mentions
    assert changed.atoms == rebuilt.atoms and changed.priors == {"a4": 0.5}
    assert sorted(changed.atom_entities()["a4"]) == ["e1", "e3"]
    assert "a3" not in changed.atom_entities()
    assert snapshot.mentions["e2"] == ["a2", "a3"], "the older generation is untouched"


def test_index_kind_follows_size_and_survives_save_and_merge(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    import faiss

    from retrieval.retrievers import dense

    monkeypatch.setattr(dense, "HNSW_THRESHOLD", 100)
    monkeypatch.setattr(dense, "FP16_THRESHOLD", 300)
    nrng = np.random.default_rng(9)
    kinds = {}
    for size in (50, 200, 400):
        ids = [f"atom-{i:04d}" for i in range(size)]
        vectors = _vectors(nrng, ids)
        index = FaissIndex.build(ids, [1] * size, np.asarray([vectors[a] for a in ids]), "m")
        kinds[size] = type(index.index)
        assert index.search(vectors["atom-0007"], 1)[0][0] == "atom-0007"
    assert kinds == {50: faiss.IndexFlatIP, 200: faiss.IndexHNSWFlat, 400: faiss.IndexHNSWSQ}
    changed = index.with_changes({"new": (1, vectors["atom-0003"])}, ["atom-0003"])
    changed.save(tmp_path)
    loaded = FaissIndex.load(tmp_path)
    assert isinstance(loaded.index, faiss.IndexHNSWSQ)
    assert loaded.search(vectors["atom-0003"], 1)[0][0] == "new"
    merged = loaded.merged()
    assert isinstance(merged.index, faiss.IndexHNSWSQ) and merged.delta_size == 0
    assert merged.search(vectors["atom-0003"], 1)[0][0] == "new"


def test_pruned_bm25_ranks_as_every_posting() -> None:
    """MaxScore pruning (bm25.top with bounds) returns the same top k with the same scores as
    scoring every posting, over tombstones and a delta segment, with repeated terms, and
    prunes on a skewed corpus (many copies of few atoms, as at a million)."""
    from retrieval.retrievers import bm25

    rng = random.Random(13)
    base = _corpus(rng, 40)
    corpus = {f"atom-{i:05d}": base[f"atom-{i % 40:05d}"] + [f"份{i // 40}"] for i in range(4000)}
    index = LexicalIndex.from_tokens(list(corpus), list(corpus.values()))
    upserts, removed = _changes(rng, corpus, 0)
    index = index.with_changes(upserts, removed)
    corpus.update(upserts)
    for a in removed:
        del corpus[a]
    exhaustive = LexicalIndex.from_tokens(sorted(corpus), [corpus[a] for a in sorted(corpus)])
    exhaustive._bounds = None  # score every posting
    pruned_once = False
    for _ in range(60):
        query = [rng.choice(WORDS[:60]) for _ in range(rng.randint(1, 8))]
        query += query[:1]  # a repeated term counts again
        for k in (1, 10, 100):
            got, want = index.search(query, k), exhaustive.search(query, k)
            assert [a for a, _ in got] == [a for a, _ in want], (query, k)
            assert np.allclose([s for _, s in got], [s for _, s in want], rtol=1e-12, atol=0)
        known = [t for t in query if t in index._main.vocab]
        rows = bm25.top(known, index._segments, index._stats, 10, index._bounds)[0][0]
        every = bm25.top(known, index._segments, index._stats, 10)[0][0]
        pruned_once |= len(rows) < len(every)
    assert pruned_once
