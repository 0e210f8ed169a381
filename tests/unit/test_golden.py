"""The golden set (data/golden, BEIR format) must judge atoms the samples still produce."""

import csv
import json
from pathlib import Path

import pytest

from ingest.sources import parse_folder

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "data" / "golden"

pytestmark = pytest.mark.unit


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def test_corpus_is_exactly_what_the_samples_produce():
    corpus = {row["_id"]: row for row in _jsonl(GOLDEN / "corpus.jsonl")}
    atoms = {a.id: a for source in parse_folder(ROOT / "data" / "samples") for a in source.atoms}
    hint = "rerun `skg export-corpus data/samples data/golden/corpus.jsonl`; re-check the qrels"
    assert corpus.keys() == atoms.keys(), hint
    assert all(corpus[i]["text"] == atoms[i].text for i in corpus)


def test_queries_and_judgments_are_well_formed():
    queries = {row["_id"]: row for row in _jsonl(GOLDEN / "queries.jsonl")}
    corpus_ids = {row["_id"] for row in _jsonl(GOLDEN / "corpus.jsonl")}
    with (GOLDEN / "qrels" / "test.tsv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    assert len(queries) >= 80
    assert {r["query-id"] for r in rows} == queries.keys()
    assert {r["corpus-id"] for r in rows} <= corpus_ids
    assert len({(r["query-id"], r["corpus-id"]) for r in rows}) == len(rows)
    best = {r["query-id"] for r in rows if r["score"] == "2"}
    assert best == queries.keys(), "every query needs an atom that answers it directly"
    colloquial = sum(1 for q in queries.values() if q["metadata"]["style"] == "colloquial")
    assert colloquial >= 0.3 * len(queries)
