"""BEIR-format data (``corpus.jsonl``, ``queries.jsonl``, ``qrels/*.tsv``) and TREC run files,
plus the conversion of CMRC 2018 (SQuAD format) into BEIR at paragraph and sentence level."""

from __future__ import annotations

import csv
import json
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from kg.errors import BadQueryError


@dataclass
class BeirData:
    corpus: dict[str, dict[str, str]]  # id -> {"title", "text"}
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]


def load_beir(folder: Path, split: str = "test") -> BeirData:
    """Read a BEIR folder; errors name the file and line that is wrong."""
    try:
        corpus = {
            r["_id"]: {"title": r.get("title", ""), "text": r["text"]}
            for r in _jsonl(folder / "corpus.jsonl")
        }
        queries = {r["_id"]: r["text"] for r in _jsonl(folder / "queries.jsonl")}
        qrels: dict[str, dict[str, int]] = defaultdict(dict)
        with (folder / "qrels" / f"{split}.tsv").open(encoding="utf-8") as f:
            for row in csv.DictReader(f, delimiter="\t"):
                qrels[row["query-id"]][row["corpus-id"]] = int(row["score"])
    except (OSError, KeyError, ValueError) as exc:
        raise BadQueryError(f"{folder}: not a readable BEIR folder ({exc})") from exc
    return BeirData(corpus, queries, dict(qrels))


def _jsonl(path: Path) -> list[dict]:
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path} line {number}: {exc.msg}") from exc
    return rows


def write_trec_run(path: Path, runs: Mapping[str, Sequence[tuple[str, float]]], tag: str) -> None:
    """``qid Q0 docid rank score tag`` lines, as trec_eval and ranx read them."""
    with path.open("w", encoding="utf-8") as f:
        for qid, ranking in runs.items():
            for rank, (doc, score) in enumerate(ranking, start=1):
                f.write(f"{qid} Q0 {doc} {rank} {score:.6f} {tag}\n")


_SENTENCE_END = re.compile(r"[^。！？]*[。！？]+[”’」』）)]*|[^。！？]+$")


def split_sentences(text: str) -> list[tuple[int, str]]:
    """Sentences at 。！？ (closing quotes stay with their sentence), with start offsets."""
    return [(m.start(), m.group()) for m in _SENTENCE_END.finditer(text) if m.group().strip()]


def cmrc_to_beir(squad_json: Path, level: str) -> BeirData:
    """CMRC 2018 as retrieval: paragraph level (a question's paragraph is relevant) or sentence
    level (the sentence holding the answer's start is relevant)."""
    data = json.loads(squad_json.read_text(encoding="utf-8"))["data"]
    corpus: dict[str, dict[str, str]] = {}
    queries: dict[str, str] = {}
    qrels: dict[str, dict[str, int]] = {}
    for article in data:
        for p_index, paragraph in enumerate(article["paragraphs"]):
            pid = paragraph.get("id") or f"{article.get('id', 'a')}-{p_index}"
            context = paragraph["context"]
            sentences = split_sentences(context)
            if level == "paragraph":
                corpus[pid] = {"title": article.get("title", ""), "text": context}
            else:
                for s_index, (_, sentence) in enumerate(sentences):
                    corpus[f"{pid}-s{s_index}"] = {"title": "", "text": sentence}
            for qa in paragraph["qas"]:
                queries[qa["id"]] = qa["question"]
                if level == "paragraph":
                    qrels[qa["id"]] = {pid: 1}
                else:
                    start = qa["answers"][0]["answer_start"]
                    s_index = max(i for i, (offset, _) in enumerate(sentences) if offset <= start)
                    qrels[qa["id"]] = {f"{pid}-s{s_index}": 1}
    return BeirData(corpus, queries, qrels)
