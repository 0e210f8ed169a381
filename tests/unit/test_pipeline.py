import threading

import numpy as np
import pytest

from ingest.pipeline import IngestOptions, ingest_paths
from kg.models import CurationStatus
from retrieval.embedding.prefetch import PrefetchingEmbedder
from retrieval.index.bundle import IndexBundle
from retrieval.index.sync import sync_index
from retrieval.query import Intent, Query
from retrieval.retrievers.dense import DenseRetriever
from tests.unit.fakes import HashEmbedder, MemoryGraphStore

pytestmark = pytest.mark.unit

GOOD = (
    "# 焊装线改造案例\n\n## 挑战\n客户焊装线节拍要求五十五秒，现有机器人跟不上。\n\n"
    "## 方案\n更换七轴机器人并优化路径规划。\n"
)


@pytest.fixture
def corpus(tmp_path):
    (tmp_path / "cases").mkdir()
    (tmp_path / "cases" / "weld.md").write_text(GOOD)
    (tmp_path / "cases" / "broken.md").write_bytes("# 损坏\n\n## 背景\n内容".encode("gb18030"))
    (tmp_path / "cases" / "empty.md").write_text("")
    return tmp_path


def test_bad_files_are_reported_and_the_rest_lands(corpus):
    store = MemoryGraphStore()
    report = ingest_paths([corpus], store)
    assert report.documents == 1
    assert report.atoms_written == 2
    assert sorted(p.rsplit("/", 1)[1] for p, _ in report.failures) == ["broken.md", "empty.md"]
    assert all(reason for _, reason in report.failures)
    assert store.counts() == {"atoms": 2, "documents": 1}


def test_unchanged_rerun_writes_and_embeds_nothing(corpus, tmp_path_factory):
    store, embedder = MemoryGraphStore(), HashEmbedder()
    index_dir = tmp_path_factory.mktemp("idx") / "index"
    ingest_paths([corpus], store)
    assert sync_index(store, embedder, index_dir).embedded == 2
    writes = store.writes
    report = ingest_paths([corpus], store)
    assert report.documents_unchanged == 1
    assert store.writes == writes
    assert sync_index(store, embedder, index_dir).embedded == 0


def test_changed_section_is_rewritten_and_removed_section_deleted(corpus, tmp_path_factory):
    store, embedder = MemoryGraphStore(), HashEmbedder()
    index_dir = tmp_path_factory.mktemp("idx") / "index"
    ingest_paths([corpus], store)
    sync_index(store, embedder, index_dir)
    (corpus / "cases" / "weld.md").write_text(
        "# 焊装线改造案例\n\n## 挑战\n客户焊装线节拍要求四十八秒，现有机器人跟不上。\n"
    )
    report = ingest_paths([corpus], store)
    assert report.atoms_removed == 1
    assert store.counts()["atoms"] == 1
    assert sync_index(store, embedder, index_dir).embedded == 1


def test_index_finds_the_matching_atom(corpus, tmp_path_factory):
    store, embedder = MemoryGraphStore(), HashEmbedder()
    index_dir = tmp_path_factory.mktemp("idx") / "index"
    ingest_paths([corpus], store)
    sync_index(store, embedder, index_dir)
    retriever = DenseRetriever(embedder, IndexBundle.load(index_dir).dense)
    best = retriever.search(Query("七轴机器人路径规划", [], [], Intent.HOWTO), 1)[0]
    assert "七轴机器人" in store.atoms_by_id[best.atom_id].text


CASE = (
    "---\n类型: 成功案例\n客户: 宁德时代\n---\n# 宁德项目\n\n"
    "## 方案\nCATL的PACK采用气凝胶隔热垫阻断热失控蔓延，成组效率损失仅0.6%。\n"
)


@pytest.fixture
def graph_corpus(tmp_path):
    root = tmp_path / "kb"
    (root / "cases").mkdir(parents=True)
    (root / "glossary").mkdir()
    (root / "cases" / "catl.md").write_text(CASE)
    (root / "cases" / "weld.md").write_text(GOOD)
    (root / "glossary" / "terms.csv").write_text(
        "术语,别名,行业,定义,相关术语\n热失控,TR,动力电池,电芯温度失控上升并连锁放热。,\n"
    )
    return root


def test_entities_land_first_so_documents_link_to_them(graph_corpus):
    store = MemoryGraphStore()
    report = ingest_paths([graph_corpus], store)
    assert report.failures == []
    catl_atom = next(a for a in store.atoms_by_id.values() if "气凝胶" in a.text)
    assert {"customer:宁德时代", "term:热失控"} <= set(store.mentions[catl_atom.id])


def test_a_new_alias_relinks_without_rewriting_atoms(graph_corpus):
    store = MemoryGraphStore()
    ingest_paths([graph_corpus], store)
    catl_atom = next(a for a in store.atoms_by_id.values() if "气凝胶" in a.text)
    assert "customer:宁德时代" in store.mentions[catl_atom.id]
    (graph_corpus / "customers.csv").write_text("客户,别名,行业\n宁德时代,CATL,动力电池\n")
    (graph_corpus / "cases" / "catl.md").write_text(CASE.replace("客户: 宁德时代\n", ""))
    report = ingest_paths([graph_corpus], store)
    assert report.atoms_updated == 0 or report.documents_changed == 1
    # Linked through the alias CATL, not through front matter any more.
    assert "customer:宁德时代" in store.mentions[catl_atom.id]


def test_removed_file_is_deleted_or_deprecated(graph_corpus):
    store = MemoryGraphStore()
    ingest_paths([graph_corpus], store)
    (graph_corpus / "cases" / "weld.md").unlink()
    report = ingest_paths([graph_corpus], store, IngestOptions(on_removed="deprecate"))
    assert report.documents_removed == 1 and report.atoms_removed == 2
    deprecated = [a for a in store.atoms_by_id.values() if a.status is CurationStatus.DEPRECATED]
    assert len(deprecated) == 2
    assert ingest_paths([graph_corpus], store).documents_removed == 0  # already gone
    (graph_corpus / "cases" / "weld.md").write_text(GOOD)
    back = ingest_paths([graph_corpus], store)
    assert back.atoms_updated == 2
    assert not any(a.status is CurationStatus.DEPRECATED for a in store.atoms_by_id.values())
    (graph_corpus / "cases" / "weld.md").unlink()
    report = ingest_paths([graph_corpus], store)
    assert report.atoms_removed == 2
    assert not any("七轴" in a.text for a in store.atoms_by_id.values())


def test_a_file_that_turns_bad_keeps_its_earlier_atoms(graph_corpus):
    store = MemoryGraphStore()
    ingest_paths([graph_corpus], store)
    before = len(store.atoms_by_id)
    (graph_corpus / "cases" / "weld.md").write_bytes("# 坏\n\n## 背景\n内容".encode("gb18030"))
    report = ingest_paths([graph_corpus], store)
    assert len(report.failures) == 1 and report.documents_removed == 0
    assert len(store.atoms_by_id) == before


def test_interrupted_run_finishes_on_rerun_without_duplicates(graph_corpus):
    store = MemoryGraphStore()

    class Interrupt(Exception):
        pass

    writes = []

    def stop_after_first_write(_path):
        writes.append(1)
        if store.writes == 1:
            raise Interrupt

    one_per_transaction = IngestOptions(batch_atoms=1)
    with pytest.raises(Interrupt):
        ingest_paths([graph_corpus], store, one_per_transaction, on_file=stop_after_first_write)
    assert store.writes == 1
    report = ingest_paths([graph_corpus], store)
    assert report.documents_unchanged == 1 and report.documents_new == 2
    again = MemoryGraphStore()
    ingest_paths([graph_corpus], again)
    assert sorted(store.atoms_by_id) == sorted(again.atoms_by_id)


def test_near_duplicate_atoms_across_documents_are_linked(graph_corpus):
    (graph_corpus / "cases" / "catl-v2.md").write_text(
        CASE.replace("宁德项目", "宁德项目（修订版）")
    )
    store = MemoryGraphStore()
    report = ingest_paths([graph_corpus], store)
    assert report.duplicates == 1
    (duplicate, original, similarity) = store.duplicates[0]
    assert store.atoms_by_id[duplicate].source.document_id != (
        store.atoms_by_id[original].source.document_id
    )
    assert similarity >= 0.8


class CountingStore(MemoryGraphStore):
    """Counts reads of the entity dictionary."""

    def __init__(self) -> None:
        super().__init__()
        self.dictionary_reads = 0

    def entity_dictionary(self):
        self.dictionary_reads += 1
        return super().entity_dictionary()


def test_files_are_counted_once_and_the_dictionary_read_only_as_needed(corpus):
    store = CountingStore()
    totals = []
    ingest_paths([corpus], store, on_total=totals.append)
    assert totals == [3], "every supported file found, before any is parsed"
    first = store.dictionary_reads
    assert first == 1, "no entities written: the vocabulary read at the start is reused"
    store.dictionary_reads = 0
    (corpus / "cases" / "weld.md").write_text(GOOD.replace("五十五", "五十"))
    ingest_paths([corpus], store)
    assert store.dictionary_reads == 1


def test_the_dictionary_is_read_again_after_entities_were_written(corpus):
    store = CountingStore()
    (corpus / "cases" / "terms.csv").write_text("术语,别名,定义\n热失控,TR,电芯温度失控。\n")
    ingest_paths([corpus], store)
    assert store.dictionary_reads == 2, "once at the start, once after writing the glossary's terms"


class _CountingEmbedder(HashEmbedder):
    def __init__(self) -> None:
        super().__init__()
        self.embedded: list[str] = []

    def embed_passages(self, texts):
        self.embedded += list(texts)
        return super().embed_passages(texts)


def test_atoms_embedded_during_ingest_are_not_embedded_again_by_the_sync(corpus, tmp_path):
    store = MemoryGraphStore()
    inner = _CountingEmbedder()
    ahead = PrefetchingEmbedder(inner)
    handed: list[str] = []

    def prefetch(texts: list[str]) -> None:
        handed.extend(texts)
        ahead.prefetch(texts)

    ingest_paths([corpus], store, on_atoms=prefetch)
    report = sync_index(store, ahead, tmp_path / "index")
    ahead.close()
    assert handed and report.embedded == len(handed)
    assert sorted(inner.embedded) == sorted(set(handed)), "each text embedded once, ahead"
    # Each atom got the vector of its own text.
    plain = HashEmbedder()
    for atom_id, vector in store.vectors.items():
        text = store.atoms_by_id[atom_id].text
        assert np.allclose(vector, plain.embed_passages([text])[0])


def test_the_prefetcher_embeds_what_was_not_handed_over_and_keeps_order():
    inner = _CountingEmbedder()
    ahead = PrefetchingEmbedder(inner, batch=2)
    ahead.prefetch(["甲", "乙乙", "丙丙丙"])
    vectors = ahead.embed_passages(["丙丙丙", "丁", "甲", "甲"])
    ahead.close()
    expected = HashEmbedder().embed_passages(["丙丙丙", "丁", "甲", "甲"])
    assert np.allclose(vectors, expected)
    assert sorted(inner.embedded) == sorted(["甲", "乙乙", "丙丙丙", "丁"])


def test_the_prefetcher_takes_waiting_parts_together_into_full_batches():
    started, release = threading.Event(), threading.Event()

    class _Recording(_CountingEmbedder):
        def __init__(self) -> None:
            super().__init__()
            self.calls: list[int] = []

        def embed_passages(self, texts):
            started.set()
            release.wait(5)  # the first part blocks the thread while the others queue up
            self.calls.append(len(texts))
            return super().embed_passages(texts)

    inner = _Recording()
    ahead = PrefetchingEmbedder(inner, batch=8)
    ahead.prefetch(["零"])
    assert started.wait(5)
    for n in range(6):  # six documents of three atoms, handed over one by one
        ahead.prefetch([f"文档{n}知识{k}" for k in range(3)])
    release.set()
    ahead.close()
    assert inner.calls == [1, 8, 8, 2], inner.calls  # not six calls of three
