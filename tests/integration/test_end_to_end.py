"""The thin slice, real end to end: sample files -> atoms in Neo4j -> FAISS -> cited answers."""

import pytest
from fastapi.testclient import TestClient

from api import assembly
from api.app import create_app
from ingest.pipeline import ingest_paths
from retrieval.index.sync import check_drift, sync_index
from speech.audio import decode
from tests.conftest import EVAL_DATA, SAMPLES, wipe_graph

pytestmark = pytest.mark.integration

QUESTION = "如何向宁德时代解释热失控防护方案？"


@pytest.fixture(scope="module")
def ingested(store, embedder, settings):
    wipe_graph(settings)
    report = ingest_paths([SAMPLES], store)
    sync = sync_index(store, embedder, settings.index_path)
    return report, sync


@pytest.fixture(scope="module")
def service(ingested, store, embedder, settings):
    return assembly.search_service(settings, store, embedder)


def test_samples_land_as_atoms_linked_to_their_documents(ingested, store):
    report, sync = ingested
    assert report.failures == []
    assert report.documents >= 70
    counts = store.counts()
    assert counts["documents"] == report.documents
    assert counts["atoms"] == report.atoms_written == sync.indexed == sync.embedded
    assert counts["entities"] >= 400 and counts["relations"] >= 300 and counts["mentions"] > 0
    orphans, _, _ = store._driver.execute_query(
        "MATCH (a:Atom) WHERE NOT (a)-[:FROM]->(:Document) RETURN count(a) AS n"
    )
    assert orphans[0]["n"] == 0


def test_reingest_of_unchanged_samples_writes_and_embeds_nothing(
    ingested, store, embedder, settings
):
    report = ingest_paths([SAMPLES], store)
    assert report.documents_unchanged == report.documents
    assert report.atoms_written == 0 and report.atoms_removed == 0
    assert sync_index(store, embedder, settings.index_path).embedded == 0


def _cypher(store, query, **params):
    records, _, _ = store._driver.execute_query(query, parameters_=params)
    return [r.data() for r in records]


def test_every_format_lands(ingested, store):
    rows = _cypher(
        store,
        "MATCH (a:Atom)-[:FROM]->(d:Document) "
        "RETURN split(d.path, '.')[-1] AS ext, d.kind AS kind, count(a) AS atoms",
    )
    landed = {(r["ext"], r["kind"]) for r in rows if r["atoms"] > 0}
    assert {("md", "case_study"), ("docx", "case_study"), ("pdf", "case_study")} <= landed
    assert {("txt", "post_mortem"), ("csv", "glossary"), ("xlsx", "glossary")} <= landed
    assert {("csv", "customer_list"), ("jsonl", "crm_export"), ("tsv", "triples")} <= landed


def test_aliases_link_atoms_to_their_customer(ingested, store):
    customer = _cypher(store, "MATCH (c:Customer {name: '宁德时代'}) RETURN c.aliases AS aliases")[
        0
    ]
    assert {"CATL", "宁德"} <= set(customer["aliases"])
    linked = _cypher(
        store,
        "MATCH (a:Atom)-[:MENTIONS]->(:Customer {name: '宁德时代'}) RETURN count(a) AS n",
    )[0]["n"]
    assert linked >= 8
    path = _cypher(
        store,
        "MATCH (:Customer {name: '宁德时代'})-[:IN_INDUSTRY]->(i:Industry) RETURN i.name AS name",
    )
    assert "动力电池" in {r["name"] for r in path}
    terms = _cypher(
        store,
        "MATCH (t:Term {name: '热失控'})-[:RELATED_TO]-(r:Term) RETURN count(r) AS n",
    )[0]["n"]
    assert terms >= 1


def test_example_question_is_answered_from_the_catl_case_with_citations(service):
    response = service.search(QUESTION, 5)
    assert [e.surface for e in response.query.entities][:2] == ["宁德时代", "热失控"]
    results = response.results
    assert "宁德时代" in results[0].atom.atom.text or "CATL" in results[0].atom.atom.text
    assert any("热失控" in r.atom.atom.text for r in results[:3])
    answer = service.ask(QUESTION, 8)
    assert answer.sections and answer.citations
    cited_paths = {c.document_path for c in answer.citations}
    assert any("catl" in p or "thermal" in p for p in cited_paths)
    text = answer.to_text()
    assert "[1]" in text and "引用" in text
    # Graph paths say why an atom is relevant (宁德时代 -> ... -> atom).
    assert any(c.path[:1] == ["宁德时代"] and len(c.path) >= 2 for c in answer.citations)


def test_spoken_question_is_transcribed_and_answered(service, settings):
    transcriber = assembly.load_transcriber(settings)
    transcript = transcriber.transcribe(decode(EVAL_DATA / "speech_zh/questions/q01.wav"))
    assert "热失控" in transcript.text
    results = service.search(transcript.text, 5).results
    assert any("热失控" in r.atom.atom.text for r in results[:3])


def test_index_sync_is_incremental_and_drift_is_reported(ingested, store, embedder, settings):
    assert check_drift(store, settings.index_path).in_sync
    atom_id = _cypher(store, "MATCH (a:Atom {type: 'case'}) RETURN a.id AS id LIMIT 1")[0]["id"]
    _cypher(store, "MATCH (a:Atom {id: $id}) SET a.status = 'deprecated'", id=atom_id)
    try:
        assert check_drift(store, settings.index_path).extra == [atom_id]
        report = sync_index(store, embedder, settings.index_path)
        assert (report.embedded, report.removed, report.added) == (0, 1, 0)
        assert check_drift(store, settings.index_path).in_sync
        rebuilt = sync_index(store, embedder, settings.index_path, rebuild=True)
        assert rebuilt.embedded == 0 and rebuilt.indexed == report.indexed
    finally:
        _cypher(store, "MATCH (a:Atom {id: $id}) SET a.status = 'draft'", id=atom_id)
        sync_index(store, embedder, settings.index_path)


@pytest.fixture(scope="module")
def keyless(settings):
    """The API without keys (SKG_AUTH_REQUIRED=false): anyone may search and ask, public only."""
    return settings.model_copy(update={"auth_required": False})


def test_search_filters(ingested, keyless):
    with TestClient(create_app(keyless)) as client:
        terms = client.post("/v1/search", json={"query": "热失控", "types": ["term"]}).json()
        assert terms["hits"] and all(h["atom"]["type"] == "term" for h in terms["hits"])
        catl = client.post(
            "/v1/search", json={"query": "怎么讲方案", "entities": ["CATL"], "top_k": 5}
        ).json()
        assert catl["hits"]
        assert all("宁德" in h["atom"]["text"] or "CATL" in h["atom"]["text"] for h in catl["hits"])
        bad = client.post("/v1/search", json={"query": "热失控", "types": ["poem"]})
        assert bad.status_code == 422


def test_http_api_readiness_search_and_clear_errors(ingested, keyless):
    with TestClient(create_app(keyless)) as client:
        ready = client.get("/readyz").json()
        assert ready["status"] == "ready" and set(ready["checks"].values()) == {"ok"}
        resp = client.post("/v1/search", json={"query": QUESTION, "top_k": 3})
        assert resp.status_code == 200
        hits = resp.json()["hits"]
        assert len(hits) == 3
        assert all((SAMPLES / h["citation"]["document_path"]).is_file() for h in hits)
        assert hits[0]["score"] >= hits[1]["score"]
        for bad, code in (
            ({"query": ""}, "bad_query"),
            ({"query": QUESTION, "top_k": 0}, "invalid_request"),
            ({"top_k": 3}, "bad_query"),
        ):
            resp = client.post("/v1/search", json=bad)
            assert resp.status_code == 422
            assert resp.json()["code"] == code
        resp = client.post(
            "/v1/search", content=b"{not json", headers={"content-type": "application/json"}
        )
        assert resp.status_code == 422
        ask = client.post("/v1/ask", json={"question": QUESTION})
        assert ask.status_code == 200 and ask.json()["answer"]["citations"]

        clip = EVAL_DATA / "speech_zh" / "questions" / "q02.m4a"
        voice = client.post(
            "/v1/ask/voice", files={"audio": ("q02.m4a", clip.read_bytes(), "audio/mp4")}
        )
        assert voice.status_code == 200, voice.text
        body = voice.json()
        assert "光伏逆变器" in body["transcript"]["text"] and body["answer"]["citations"]
        for junk in (b"", b"not audio at all" * 100):
            bad = client.post("/v1/ask/voice", files={"audio": ("x.m4a", junk, "audio/mp4")})
            assert bad.status_code == 422 and bad.json()["code"] == "bad_audio"
        not_multipart = client.post("/v1/ask/voice", data={"top_k": "3"})
        assert not_multipart.status_code == 415  # the endpoint takes multipart/form-data
        missing = client.post(
            "/v1/ask/voice", data={"top_k": "3"}, files={"other": ("x.txt", b"x", "text/plain")}
        )
        assert missing.status_code == 422 and "audio" in missing.json()["detail"]
