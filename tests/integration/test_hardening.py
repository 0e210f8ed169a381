"""Odd data and hostile files, on the real stack: atoms a hand edit broke fail closed and are
reported, never a 500; zip bombs, oversized and slow files are refused with a reason while
the rest lands; a large document is written in bounded transactions and appears whole or not
at all; names split where they should; state files are private."""

from __future__ import annotations

import io
import json
import stat
import time
import zipfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.keys import ApiKeys
from ingest.limits import ParseLimits
from ingest.pipeline import IngestOptions, ingest_paths
from kg.neo4j_store import Neo4jGraphStore
from retrieval.index.sync import check_drift, sync_index
from tests.conftest import ROOT, SAMPLES, wipe_graph

pytestmark = pytest.mark.integration

QUESTION = "如何向宁德时代解释热失控防护方案？"


@pytest.fixture(scope="module")
def loaded(store, embedder, settings, tmp_path_factory):
    wipe_graph(settings)
    folder = tmp_path_factory.mktemp("hardening") / "资料"
    folder.mkdir()
    for name in ("cases/catl-thermal-runaway.md", "cases/byd-bms-cloud-early-warning.md"):
        (folder / Path(name).name).write_bytes((SAMPLES / name).read_bytes())
    assert ingest_paths([folder], store).failures == []
    index = tmp_path_factory.mktemp("hardening-index")
    sync_index(store, embedder, index)
    return index


@pytest.fixture(scope="module")
def client(loaded, settings, tmp_path_factory):
    app_settings = settings.model_copy(
        update={
            "auth_cache_seconds": 0.0,
            "index_dir": loaded,
            "index_refresh_seconds": 0.0,
            "uploads_dir": tmp_path_factory.mktemp("hardening-uploads"),
            "ingest_max_expanded_bytes": 2 * 1024 * 1024,
            "ingest_max_atoms": 500,
            "ingest_large_job_bytes": 8 * 1024,
        }
    )
    with TestClient(create_app(app_settings), raise_server_exceptions=False) as c:
        c.app_settings = app_settings
        yield c


@pytest.fixture(scope="module")
def keys(loaded, store):
    make = ApiKeys(store).create
    return {
        "east": make("华东", ["search", "ask", "ingest"], team="华东", user="王磊")[1],
        "south": make("华南", ["search", "ask"], team="华南")[1],
        "public": make("公共", ["search", "ask"])[1],
    }


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def cypher(store: Neo4jGraphStore, query: str, **params):
    records, _, _ = store._driver.execute_query(query, params)
    return [r.data() for r in records]


def wait_for(client, key, job_id, timeout_s=240):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = client.get(f"/v1/ingest/jobs/{job_id}", headers=auth(key)).json()
        if job["state"] in {"succeeded", "failed"}:
            return job
        time.sleep(0.3)
    raise AssertionError(job_id)


# -- odd data in the graph ----------------------------------------------------------------------
def test_atoms_with_broken_fields_fail_closed_are_reported_and_never_500(
    client, keys, store, loaded, embedder
):
    """A curator's Cypher removes one atom's visibility and gives another 'Private' (and a
    third a bogus status and type). After the refresh, every key's search, answer and atom
    read still work; the broken atoms are shown to no one but their owner; index check and
    the curators' review query list them."""
    ids = [r["id"] for r in cypher(store, "MATCH (a:Atom) RETURN a.id AS id ORDER BY a.id")]
    missing, capital, bogus = ids[0], ids[1], ids[2]
    cypher(store, "MATCH (a:Atom {id: $id}) REMOVE a.visibility", id=missing)
    cypher(
        store,
        "MATCH (a:Atom {id: $id}) SET a.visibility = 'Private', a.owner = '王磊'",
        id=capital,
    )
    cypher(store, "MATCH (a:Atom {id: $id}) SET a.status = 'Approved', a.type = 42", id=bogus)
    client.app.state.services.sync_and_reload(audit=True)  # hand edits stamp nothing
    for name, key in keys.items():
        for path, body in (
            ("/v1/search", {"query": QUESTION, "top_k": 50}),
            ("/v1/ask", {"question": QUESTION}),
        ):
            response = client.post(path, json=body, headers=auth(key))
            assert response.status_code == 200, (name, response.text)
            shown = json.dumps(response.json(), ensure_ascii=False)
            assert missing not in shown and bogus not in shown, name
            assert (capital in shown) is False or name == "east", name
        for atom_id in (missing, capital, bogus):
            read = client.get(f"/v1/atoms/{atom_id}", headers=auth(key))
            assert read.status_code in (200, 404), (name, read.text)
            if atom_id != capital or name != "east":
                assert read.status_code == 404, (name, atom_id)
    owner_read = client.get(f"/v1/atoms/{capital}", headers=auth(keys["east"]))
    assert owner_read.status_code == 200 and owner_read.json()["atom"]["visibility"] == "private"
    drift = check_drift(store, loaded)
    assert {atom_id for atom_id, _ in drift.invalid} == {missing, capital, bogus}
    review = (ROOT / "curation" / "02-needs-review.cypher").read_text(encoding="utf-8")
    flagged = {r["编号"] for r in cypher(store, review)}
    assert {missing, capital, bogus} <= flagged
    cypher(
        store,
        "MATCH (a:Atom) WHERE a.id IN $ids SET a.visibility = 'public', a.status = 'draft', "
        "a.type = 'case'",
        ids=[missing, capital, bogus],
    )
    client.app.state.services.sync_and_reload(audit=True)


# -- hostile files ------------------------------------------------------------------------------
def _docx_bomb(expanded: int) -> bytes:
    """A .docx whose document.xml unzips to ``expanded`` bytes (it compresses ~1000:1)."""
    body = "<w:p><w:r><w:t>" + "热失控" * (expanded // 9) + "</w:t></w:r></w:p>"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", body)
    return buffer.getvalue()


def test_a_zip_bomb_an_oversized_and_a_slow_file_are_refused_and_the_rest_lands(client, keys):
    bomb = _docx_bomb(8 * 1024 * 1024)
    assert len(bomb) < 200 * 1024
    records = "\n".join(
        json.dumps({"id": str(i), "text": f"第{i}条现场纪要：客户关心热失控防护的交付周期。"})
        for i in range(600)
    )
    good = "# 正常文档\n\n## 要点\n储能热失控预警：正常文档的一段足够长的正文，应当照常导入。\n"
    files = [
        ("files", ("炸弹.docx", bomb, "application/octet-stream")),
        ("files", ("太多条.jsonl", records.encode(), "application/json")),
        ("files", ("正常.md", good.encode(), "text/markdown")),
    ]
    started = time.monotonic()
    response = client.post("/v1/ingest", files=files, headers=auth(keys["east"]))
    assert response.status_code == 202, response.text
    job = wait_for(client, keys["east"], response.json()["id"])
    assert time.monotonic() - started < 120
    failures = {f["file"]: f["error"] for f in job["report"]["failures"]}
    assert set(failures) == {"炸弹.docx", "太多条.jsonl"}, job["report"]
    assert "解压后" in failures["炸弹.docx"] and "上限" in failures["太多条.jsonl"]
    assert job["state"] == "succeeded" and job["report"]["atoms_created"] == 1


def test_parsing_has_a_time_budget(store, tmp_path):
    rows = "术语,别名,释义\n" + "".join(f"术语{i},别名{i},释义文字{i}\n" for i in range(2000))
    folder = tmp_path / "慢"
    folder.mkdir()
    (folder / "大表.csv").write_text(rows, encoding="utf-8")
    report = ingest_paths(
        [folder], store, IngestOptions(limits=ParseLimits(max_seconds=0.0), sync_removed=False)
    )
    [(path, reason)] = report.failures
    assert path.endswith("大表.csv") and "解析超过" in reason


def test_a_small_job_is_not_starved_behind_a_large_one(client, keys):
    rows = "术语,别名,释义\n" + "".join(
        f"储能术语{i},别名{i},第{i}个储能术语的释义：用于测试大任务，释义要足够长才有意义。\n"
        for i in range(400)
    )
    large = client.post(
        "/v1/ingest",
        files=[("files", ("大术语表.csv", rows.encode(), "text/csv"))],
        headers=auth(keys["east"]),
    ).json()["id"]
    small = client.post(
        "/v1/ingest",
        files=[
            (
                "files",
                ("小.md", "# 小\n\n## 要点\n两行的小文件：储能消防验收要先对齐口径。".encode()),
            )
        ],
        headers=auth(keys["east"]),
    ).json()["id"]
    small_job, large_job = (
        wait_for(client, keys["east"], small),
        wait_for(client, keys["east"], large),
    )
    assert small_job["state"] == large_job["state"] == "succeeded"
    # Its own lane: the small job ran while the large one was still running (in one lane it
    # would start only after the large one finished). Which finishes first is a race between
    # their index syncs, which jobs finishing together share, so it is not asserted.
    assert small_job["started_at"] < large_job["finished_at"], (small_job, large_job)


# -- a document too large for one transaction ---------------------------------------------------
class FailingStore(Neo4jGraphStore):
    """The real store, whose connection 'drops' before the n-th write transaction."""

    def __init__(self, store: Neo4jGraphStore, fail_at: int) -> None:
        super().__init__(store._driver, store._database)
        self.fail_at, self.calls = fail_at, 0

    def _write(self, work) -> None:
        self.calls += 1
        if self.calls == self.fail_at:
            from kg.errors import GraphUnavailableError

            raise GraphUnavailableError("connection dropped (test)")
        super()._write(work)


def _large_export(folder: Path, count: int) -> Path:
    lines = [
        json.dumps({"id": f"r{i}", "text": f"大文档第{i}条：客户对热失控预警的关注点各不相同。"})
        for i in range(count)
    ]
    path = folder / "大导出.jsonl"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def test_a_large_document_is_written_in_bounded_transactions_and_appears_whole(store, tmp_path):
    folder = tmp_path / "大文档"
    folder.mkdir()
    _large_export(folder, 2500)
    options = IngestOptions(batch_atoms=500, sync_removed=False)

    def visible() -> int:
        query = "MATCH (a:Atom) WHERE a.text STARTS WITH '大文档第' RETURN count(a) AS n"
        return cypher(store, query)[0]["n"]

    failing = FailingStore(store, fail_at=4)  # begin, two staged batches, then the drop
    with pytest.raises(Exception, match="connection dropped"):
        ingest_paths([folder], failing, options)
    assert visible() == 0, "a half-written large document shows none of its new atoms"
    assert cypher(store, "MATCH (s:StagedAtom) RETURN count(s) AS n")[0]["n"] == 1000
    report = ingest_paths([folder], store, options)
    assert report.failures == [] and report.atoms_created == 2500
    assert visible() == 2500
    assert cypher(store, "MATCH (s:StagedAtom) RETURN count(s) AS n")[0]["n"] == 0
    again = ingest_paths([folder], store, options)
    assert again.atoms_unchanged == 2500 and again.atoms_written == 0


# -- names and files ----------------------------------------------------------------------------
def test_units_in_aliases_are_not_split_into_names(store, tmp_path):
    folder = tmp_path / "术语"
    folder.mkdir()
    (folder / "单位.csv").write_text(
        "术语,别名,释义\n能量密度,Energy Density|Wh/kg|Wh/L,单位重量或体积电池能储存多少电。\n",
        encoding="utf-8",
    )
    assert ingest_paths([folder], store, IngestOptions(sync_removed=False)).failures == []
    [row] = cypher(store, "MATCH (e:Entity {id: 'term:能量密度'}) RETURN e.aliases AS aliases")
    assert "Wh/kg" in row["aliases"] and "kg" not in row["aliases"]


def test_state_files_are_private(client, keys):
    """The index (every atom's text), uploads and the test Neo4j's auth file: 600 / 700."""
    settings = client.app_settings
    response = client.post(
        "/v1/ingest",
        files=[
            ("files", ("私密.md", "# 私密\n\n## 要点\n只给本人看的一段足够长的笔记。".encode()))
        ],
        data={"visibility": "private"},
        headers=auth(keys["east"]),
    )
    job = wait_for(client, keys["east"], response.json()["id"])
    assert job["state"] == "succeeded", job
    paths = [
        *Path(settings.index_path).rglob("*"),
        Path(settings.index_path),
        Path(settings.uploads_path),
    ]
    loose = [p for p in paths if p.exists() and stat.S_IMODE(p.stat().st_mode) & 0o077]
    assert loose == []
