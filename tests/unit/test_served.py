"""A dropped index generation is freed by reference counting alone: the server freezes the
heap after each swap (``retrieval.served.freeze_heap``), so anything of a generation caught in
a reference cycle would stay in memory for good."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

import pytest

from api import assembly
from api.settings import Settings
from ingest.pipeline import ingest_paths
from retrieval.index.bundle import IndexBundle
from retrieval.index.sync import sync_index
from tests.unit.fakes import HashEmbedder, MemoryGraphStore

CASE = (
    "---\ncustomer: 宁德时代\nindustry: 储能\n---\n# 宁德时代热失控防护\n\n"
    "## 挑战\n电芯热失控会蔓延到整个电池包。\n\n## 方案\n多级预警与气凝胶隔热。\n"
)


class SilentTranscriber:
    name = "silent"

    def transcribe(self, samples, prompt="", *, deadline=None):  # pragma: no cover - unused
        raise AssertionError("not called")


@pytest.fixture
def generation(tmp_path: Path):
    (tmp_path / "kb" / "cases").mkdir(parents=True)
    (tmp_path / "kb" / "cases" / "catl.md").write_text(CASE, encoding="utf-8")
    store, embedder = MemoryGraphStore(), HashEmbedder()
    assert ingest_paths([tmp_path / "kb"], store).failures == []
    sync_index(store, embedder, tmp_path / "index")
    return store, embedder, tmp_path / "index"


def test_a_dropped_generation_is_freed_without_the_cycle_collector(generation) -> None:
    store, embedder, index = generation
    settings = Settings(_env_file=None, home=index.parent)
    gc.collect()
    gc.disable()
    try:
        bundle = IndexBundle.load(index)
        search = assembly.search_service(settings, store, embedder, bundle)
        recognizer = assembly.graph_aware_recognizer(
            SilentTranscriber(), bundle.graph, bundle.tokens.values()
        )
        assert search.search("宁德时代热失控怎么防", 3).results
        alive = [weakref.ref(o) for o in (bundle, bundle.graph, search, recognizer)]
        retriever = search._retriever
        alive += [weakref.ref(retriever), *(weakref.ref(r) for r in retriever._retrievers.values())]
        del bundle, search, recognizer, retriever
        assert [r() for r in alive] == [None] * len(alive)
    finally:
        gc.enable()
