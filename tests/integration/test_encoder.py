"""The served encoder (OpenVINO) and the CTranslate2 int8 option against PyTorch fp32, and the
index never mixing vectors of two encoders: switching encoders re-embeds every atom, and a
dense retriever whose questions another encoder embeds leaves the index alone until then."""

from __future__ import annotations

import pytest

from api import assembly
from retrieval.embedding.lazy import LazyEmbedder
from retrieval.index.bundle import IndexBundle
from retrieval.index.sync import check_drift, sync_index
from retrieval.query import Intent, Query
from retrieval.retrievers.dense import DenseRetriever
from tests.conftest import SAMPLES, wipe_graph

pytestmark = pytest.mark.integration

TEXTS = [
    "如何向宁德时代解释热失控防护方案？",
    "How do I explain our thermal runaway protection to CATL?",
    "客户嫌电芯之间塞隔热垫会吃掉空间，这个咋回？",
]


@pytest.fixture(scope="module")
def torch_embedder(settings):
    return assembly.load_embedder(settings.model_copy(update={"encoder": "torch"}))


def test_the_served_encoder_matches_pytorch(embedder, torch_embedder):
    assert embedder.name.startswith("multilingual-e5-small-openvino-")
    assert torch_embedder.name == "multilingual-e5-small"
    for embed in ("embed_queries", "embed_passages"):
        ours = getattr(embedder, embed)(TEXTS)
        reference = getattr(torch_embedder, embed)(TEXTS)
        assert ours.shape == reference.shape
        assert float((ours * reference).sum(axis=1).min()) > 0.9995


def test_the_ct2_int8_option_builds_checks_and_matches_pytorch(settings, torch_embedder, tmp_path):
    from models_build.encoders import build_ct2 as build
    from retrieval.embedding.ct2 import Ct2Embedder, encoder_name

    found = build(settings.embedding_model_path, tmp_path / "ct2")
    assert found["min_cosine"] > 0.995
    ct2 = Ct2Embedder(tmp_path / "ct2", threads=1)
    assert ct2.name == encoder_name(tmp_path / "ct2") == "multilingual-e5-small-ct2-int8"
    ours, reference = ct2.embed_queries(TEXTS), torch_embedder.embed_queries(TEXTS)
    assert float((ours * reference).sum(axis=1).min()) > 0.995


def test_switching_encoders_reembeds_and_never_mixes_vectors(
    store, settings, embedder, torch_embedder, tmp_path
):
    from ingest.pipeline import ingest_paths

    wipe_graph(settings)
    assert ingest_paths([SAMPLES / "cases"], store).failures == []
    index = tmp_path / "index"
    first = sync_index(store, torch_embedder, index)
    assert first.embedded == first.indexed > 0
    second = sync_index(store, embedder, index)
    assert second.embedded == first.indexed, "every atom is embedded again by the new encoder"
    bundle = IndexBundle.load(index)
    assert bundle.dense.model == embedder.name and check_drift(store, index).in_sync
    assert sync_index(store, embedder, index).embedded == 0
    query = Query(TEXTS[0], [], [], Intent.HOWTO)
    assert DenseRetriever(embedder, bundle.dense).search(query, 5)
    assert DenseRetriever(torch_embedder, bundle.dense).search(query, 5) == []


def test_a_sync_with_nothing_to_embed_never_loads_the_model(store, settings, embedder, tmp_path):
    index = tmp_path / "index"
    sync_index(store, embedder, index)
    lazy = assembly.load_embedder(settings, lazy=True)
    assert isinstance(lazy, LazyEmbedder) and lazy.name == embedder.name
    report = sync_index(store, lazy, index)
    assert report.embedded == 0 and not lazy.loaded
    assert IndexBundle.load(index).dense.dimensions == embedder.dimensions
