import pytest

from ingest.pipeline import ingest_paths
from retrieval.dense import DenseRetriever, FaissIndex
from retrieval.index_sync import sync_index
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
    retriever = DenseRetriever(embedder, FaissIndex.load(index_dir))
    best = retriever.search("七轴机器人路径规划", 1)[0]
    assert "七轴机器人" in store.atoms_by_id[best.atom_id].text
