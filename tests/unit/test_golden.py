"""The judged sets (data/golden, data/colloquial; BEIR format, data/EVAL.md) must judge atoms the
samples still produce, and keep their dev and test splits apart."""

import csv
import json
from pathlib import Path

import pytest

from ingest.sources import parse_folder

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "data" / "golden"
COLLOQUIAL = ROOT / "data" / "colloquial"

pytestmark = pytest.mark.unit


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def _qrels(path: Path) -> list[tuple[str, str, str]]:
    with path.open(encoding="utf-8") as f:
        return [
            (r["query-id"], r["corpus-id"], r["score"]) for r in csv.DictReader(f, delimiter="\t")
        ]


def _corpus() -> dict[str, dict]:
    return {row["_id"]: row for row in _jsonl(GOLDEN / "corpus.jsonl")}


def _family(corpus: dict[str, dict], atom_id: str) -> str:
    """The split rule's document: an atom's title up to the first ` · ` (data/EVAL.md)."""
    return corpus[atom_id]["title"].split(" · ")[0]


def test_corpus_is_exactly_what_the_samples_produce():
    corpus = _corpus()
    atoms = {a.id: a for source in parse_folder(ROOT / "data" / "samples") for a in source.atoms}
    hint = "rerun `skg export-corpus data/samples data/golden/corpus.jsonl`; re-check the qrels"
    assert corpus.keys() == atoms.keys(), hint
    assert all(corpus[i]["text"] == atoms[i].text for i in corpus)


@pytest.mark.parametrize("folder", [GOLDEN, COLLOQUIAL], ids=["golden", "colloquial"])
def test_queries_and_judgments_are_well_formed(folder):
    queries = {row["_id"]: row for row in _jsonl(folder / "queries.jsonl")}
    corpus_ids = _corpus().keys()
    rows = _qrels(folder / "qrels" / "dev.tsv") + _qrels(folder / "qrels" / "test.tsv")
    assert len(queries) >= 80
    assert {q for q, _, _ in rows} == queries.keys(), "every query is judged"
    assert {d for _, d, _ in rows} <= corpus_ids, "judgments name atoms of the golden corpus"
    assert len({(q, d) for q, d, _ in rows}) == len(rows)
    assert {g for _, _, g in rows} <= {"1", "2"}
    best = {q for q, _, g in rows if g == "2"}
    assert best == queries.keys(), "every query needs an atom that answers it directly"


def test_golden_dev_and_test_split_all_line_for_line():
    every = _qrels(GOLDEN / "qrels" / "all.tsv")
    dev, test = _qrels(GOLDEN / "qrels" / "dev.tsv"), _qrels(GOLDEN / "qrels" / "test.tsv")
    assert sorted(dev + test) == sorted(every)
    assert [r for r in every if r in set(dev)] == dev, "lines keep the order of all.tsv"
    assert [r for r in every if r in set(test)] == test
    queries = {row["_id"]: row for row in _jsonl(GOLDEN / "queries.jsonl")}
    colloquial = sum(1 for q in queries.values() if q["metadata"]["style"] == "colloquial")
    assert colloquial >= 0.3 * len(queries)


@pytest.mark.parametrize("folder", [GOLDEN, COLLOQUIAL], ids=["golden", "colloquial"])
def test_every_query_is_in_exactly_one_split_and_no_document_straddles(folder):
    corpus = _corpus()
    dev, test = _qrels(folder / "qrels" / "dev.tsv"), _qrels(folder / "qrels" / "test.tsv")
    assert not {q for q, _, _ in dev} & {q for q, _, _ in test}
    assert abs(len({q for q, _, _ in dev}) - len({q for q, _, _ in test})) <= 0.1 * len(dev)
    # Near-twin questions (grade-2 atoms from one document) never straddle the split.
    families = [{_family(corpus, d) for _, d, g in rows if g == "2"} for rows in (dev, test)]
    assert not families[0] & families[1]
    metadata = {row["_id"]: row["metadata"] for row in _jsonl(folder / "queries.jsonl")}
    for split, rows in (("dev", dev), ("test", test)):
        assert all(metadata[q].get("split", split) == split for q, _, _ in rows)
