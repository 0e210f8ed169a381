import numpy as np
import pytest

from kg.errors import IndexNotReadyError
from retrieval.query import Intent, Query
from retrieval.retrievers.dense import DenseRetriever, FaissIndex
from tests.unit.fakes import HashEmbedder

pytestmark = pytest.mark.unit


def test_save_load_round_trip_keeps_ids_versions_and_ranking(tmp_path):
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(20, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = [f"atom-{i}" for i in range(20)]
    FaissIndex.build(ids, list(range(20)), vectors, model="m").save(tmp_path / "idx")
    loaded = FaissIndex.load(tmp_path / "idx")
    assert loaded.ids == ids and loaded.versions == list(range(20)) and loaded.model == "m"
    hits = loaded.search(vectors[7], 3)
    assert hits[0][0] == "atom-7"
    assert hits[0][1] == pytest.approx(1.0, abs=1e-5)
    assert hits[1][1] <= hits[0][1]
    assert not (tmp_path / "idx.partial").exists()


def test_missing_index_says_what_to_run(tmp_path):
    with pytest.raises(IndexNotReadyError, match="skg index sync"):
        FaissIndex.load(tmp_path / "nothing")


def test_dimension_mismatch_is_refused():
    index = FaissIndex.build(["a"], [1], np.ones((1, 8), dtype=np.float32), model="other")
    with pytest.raises(IndexNotReadyError, match="dimensional"):
        DenseRetriever(HashEmbedder(), index)


def test_empty_index_returns_nothing():
    index = FaissIndex.build([], [], np.zeros((0, 64), dtype=np.float32), model="hash")
    query = Query("任何问题", [], [], Intent.EXPLAIN)
    assert DenseRetriever(HashEmbedder(), index).search(query, 5) == []


@pytest.mark.parametrize("count", [0, 1, 4, 5, 11])
def test_read_vectors_keeps_order_across_chunks(count: int) -> None:
    from retrieval.index.sync import read_vectors

    rows = [(f"a{i:02d}", i, [float(i), -float(i), 0.5]) for i in range(count)]
    versions, matrix = read_vectors(iter(rows), 3, chunk=5)
    assert list(versions.items()) == [(a, v) for a, v, _ in rows]
    assert matrix.shape == (count, 3) and matrix.dtype == np.float32
    assert matrix.tolist() == [vector for _, _, vector in rows]


@pytest.mark.parametrize(
    "tokens",
    [{}, {"a": []}, {"a": ["热失控", "BMS"], "b": [], "c": ["BMS", "热失控", "BMS"]}],
)
def test_tokens_round_trip_with_shared_strings(tmp_path, tokens) -> None:
    from retrieval.index.bundle import load_tokens, save_tokens

    save_tokens(tmp_path, tokens)
    loaded = load_tokens(tmp_path)
    assert loaded == tokens and list(loaded) == list(tokens)
    if tokens.get("c"):
        assert loaded["a"][1] is loaded["c"][0], "one string per distinct token"


def test_tokens_of_an_earlier_bundle_still_load(tmp_path) -> None:
    import json

    from retrieval.index.bundle import load_tokens

    (tmp_path / "tokens.json").write_text(json.dumps({"a": ["热失控"]}, ensure_ascii=False))
    assert load_tokens(tmp_path) == {"a": ["热失控"]}


@pytest.mark.parametrize("count", [10, 60_000])  # exact, and HNSW over the threshold
def test_vectors_are_read_back_by_atom_id_from_main_and_delta(count: int) -> None:
    rng = np.random.default_rng(7)
    vectors = rng.standard_normal((count, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = [f"a{i}" for i in range(count)]
    index = FaissIndex.build(ids, [1] * count, vectors, "m")
    fresh = np.ones(8, dtype=np.float32) / np.sqrt(8)
    changed = index.with_changes({"a1": (2, fresh), "new": (1, fresh)}, ["a2"])
    found = changed.vectors(["a3", "a1", "new", "a2", "missing", "a0"])
    assert np.allclose(found[0], vectors[3], atol=1e-6)
    assert np.allclose(found[1], fresh) and np.allclose(found[2], fresh)
    assert not found[3].any() and not found[4].any()  # removed, never there
    assert np.allclose(found[5], vectors[0], atol=1e-6)
    assert changed.vectors([]).shape == (0, 8)
