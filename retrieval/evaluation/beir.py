"""BEIR-format data (``corpus.jsonl``, ``queries.jsonl``, ``qrels/*.tsv``) and TREC run files,
plus the conversion of CMRC 2018 (SQuAD format) into BEIR at paragraph and sentence level."""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from kg.errors import BadQueryError


@dataclass
class BeirData:
    corpus: dict[str, dict[str, str]]  # id -> {"title", "text", "type"}
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]
    # id -> the query's metadata ("style", "intent"...) and "split": the qrels file that judges it
    query_meta: dict[str, dict[str, str]] = field(default_factory=dict)

    def only(self, split: str) -> BeirData:
        """The queries of one split (``all``: every judged query)."""
        if split == "all":
            return self
        qrels = {q: j for q, j in self.qrels.items() if self.query_meta[q]["split"] == split}
        if not qrels:
            raise BadQueryError(f"no judged queries in split {split!r}")
        return replace(self, qrels=qrels)


def load_beir(folder: Path, split: str = "test", *, corpus: Path | None = None) -> BeirData:
    """Read a BEIR folder with the judgments of ``qrels/<split>.tsv``.

    ``corpus`` names the corpus file when the folder has none of its own (the colloquial set
    judges the golden corpus). Errors name the file and line that is wrong.
    """
    return load_splits(folder, (split,), corpus=corpus)


def load_splits(
    folder: Path, splits: Sequence[str] = ("dev", "test"), *, corpus: Path | None = None
) -> BeirData:
    """Read a BEIR folder with the judgments of several qrels files; each query's split is the
    file that judges it (``query_meta[id]["split"]``), and a query may be in only one."""
    if corpus is None and not (folder / "corpus.jsonl").exists() and folder.is_dir():
        raise BadQueryError(
            f"{folder} has no corpus.jsonl: name the corpus its qrels judge "
            "(skg eval --corpus FILE; data/colloquial judges data/golden/corpus.jsonl)"
        )
    try:
        documents = {
            r["_id"]: {
                "title": r.get("title", ""),
                "text": r["text"],
                "type": (r.get("metadata") or {}).get("type", ""),
            }
            for r in _jsonl(corpus or folder / "corpus.jsonl")
        }
        rows = _jsonl(folder / "queries.jsonl")
        queries = {r["_id"]: r["text"] for r in rows}
        meta = {r["_id"]: {k: str(v) for k, v in (r.get("metadata") or {}).items()} for r in rows}
        qrels: dict[str, dict[str, int]] = defaultdict(dict)
        judged_in: dict[str, str] = {}
        for split in splits:
            path = folder / "qrels" / f"{split}.tsv"
            with path.open(encoding="utf-8") as f:
                for row in csv.DictReader(f, delimiter="\t"):
                    qid = row["query-id"]
                    if judged_in.setdefault(qid, split) != split:
                        raise ValueError(f"{path}: {qid} is judged in {judged_in[qid]}.tsv too")
                    qrels[qid][row["corpus-id"]] = int(row["score"])
        for qid, split in judged_in.items():
            meta.setdefault(qid, {})["split"] = split
    except (OSError, KeyError, ValueError) as exc:
        raise BadQueryError(f"{folder}: not a readable BEIR folder ({exc})") from exc
    return BeirData(documents, queries, dict(qrels), meta)


def _jsonl(path: Path) -> list[dict[str, Any]]:
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


def write_qrels(path: Path, qrels: Mapping[str, Mapping[str, int]]) -> None:
    """BEIR qrels: a header, then ``query-id<TAB>corpus-id<TAB>score`` lines."""
    with path.open("w", encoding="utf-8") as f:
        f.write("query-id\tcorpus-id\tscore\n")
        for qid, judged in qrels.items():
            for doc, grade in judged.items():
                f.write(f"{qid}\t{doc}\t{grade}\n")


_SENTENCE_END = re.compile(r"[^。！？]*[。！？]+[”’」』）)]*|[^。！？]+$")


def split_sentences(text: str) -> list[tuple[int, str]]:
    """Sentences at 。！？ (closing quotes stay with their sentence), with start offsets."""
    return [(m.start(), m.group()) for m in _SENTENCE_END.finditer(text) if m.group().strip()]


def cmrc_split(article_id: str) -> str:
    """``dev`` or ``test`` for a CMRC article, by the first byte of SHA-256 of its id (even:
    dev). A whole article, its paragraphs and questions, stays on one side; on the trial set
    this gives 128 articles each, 510 dev and 492 test questions."""
    return "dev" if hashlib.sha256(article_id.encode("utf-8")).digest()[0] % 2 == 0 else "test"


def kdconv_to_beir(kb_json: Path, dialogues_json: Path) -> BeirData:
    """KdConv travel as grounded retrieval: the knowledge base's atoms, as ingest makes them
    from its triples (a fact card per subject, an atom per long value: ingest/triples.py), and
    as questions the turns that a knowledge-grounded answer follows.

    A turn is a question when it uses no knowledge itself and the next turn is annotated with
    the triples it uses; the atoms holding those triples (the long value's own atom, else the
    subject's card) are relevant.
    Only questions that name the place a relevant atom is about are kept: asked alone, a
    follow-up ("开放时间上有规定吗？", 603 of the 830) leaves every retriever near 0, because
    what it is about is in the dialogue before it. Split by dialogue (``cmrc_split`` of its
    index).
    """
    from ingest.sources.structured import triples_from_base
    from ingest.triples import LONG_VALUE_CHARS, triples_to_graph

    try:
        base = json.loads(kb_json.read_text(encoding="utf-8"))
        dialogues = json.loads(dialogues_json.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BadQueryError(f"{kb_json}, {dialogues_json}: not KdConv files ({exc})") from exc
    graph = triples_to_graph(triples_from_base(base), "kdconv-travel", {})
    corpus = {a.id: {"title": a.title, "text": a.text, "type": "fact"} for a in graph.atoms}
    names = {e.id: e.name for e in graph.entities}
    card: dict[str, str] = {}
    subject: dict[str, str] = {}
    long_value: dict[tuple[str, str], str] = {}
    for atom in graph.atoms:
        name = subject[atom.id] = names[atom.entities[0]]
        if atom.title == name:
            card[name] = atom.id
        else:
            long_value[(name, atom.source.section)] = atom.id
    queries: dict[str, str] = {}
    qrels: dict[str, dict[str, int]] = {}
    meta: dict[str, dict[str, str]] = {}
    for d_index, dialogue in enumerate(dialogues):
        split = cmrc_split(f"kdconv-{d_index}")
        turns = dialogue.get("messages", [])
        for t_index in range(1, len(turns)):
            relevant = {}
            for attr in turns[t_index].get("attrs") or []:
                name, relation = str(attr.get("name", "")), str(attr.get("attrname", ""))
                value = str(attr.get("attrvalue", ""))
                atom_id = (
                    long_value.get((name, relation))
                    if len(value.strip()) > LONG_VALUE_CHARS
                    else card.get(name)
                )
                if atom_id:
                    relevant[atom_id] = 1
            asked = turns[t_index - 1]
            question = str(asked.get("message", "")).strip()
            named = any(subject[a] in question for a in relevant)
            if relevant and named and not asked.get("attrs"):
                qid = f"kd{d_index}-{t_index}"
                queries[qid], qrels[qid], meta[qid] = question, relevant, {"split": split}
    return BeirData(corpus, queries, qrels, meta)


def cmrc_to_beir(squad_json: Path, level: str, *, titled: bool = False) -> BeirData:
    """CMRC 2018 as retrieval: paragraph level (a question's paragraph is relevant) or sentence
    level (the sentence holding the answer's start is relevant).

    ``titled`` makes each unit look like one of our atoms: the article's title is its title and
    opens its text in 【】, as ingest writes it. Each question's split (``cmrc_split``) is in
    ``query_meta``; the corpus is the same for both splits.
    """
    try:
        return _cmrc(json.loads(squad_json.read_text(encoding="utf-8"))["data"], level, titled)
    except (OSError, KeyError, ValueError, TypeError) as exc:
        raise BadQueryError(f"{squad_json}: not a readable CMRC (SQuAD) file ({exc})") from exc


def _cmrc(data: list[dict[str, Any]], level: str, titled: bool) -> BeirData:
    corpus: dict[str, dict[str, str]] = {}
    queries: dict[str, str] = {}
    qrels: dict[str, dict[str, int]] = {}
    meta: dict[str, dict[str, str]] = {}
    for a_index, article in enumerate(data):
        article_id = str(article.get("id") or f"a{a_index}")
        title = article.get("title", "") if titled else ""
        split = cmrc_split(article_id)
        for p_index, paragraph in enumerate(article["paragraphs"]):
            pid = paragraph.get("id") or f"{article_id}-{p_index}"
            context = paragraph["context"]
            sentences = split_sentences(context)
            units = (
                {pid: context}
                if level == "paragraph"
                else {f"{pid}-s{i}": sentence for i, (_, sentence) in enumerate(sentences)}
            )
            for unit_id, text in units.items():
                corpus[unit_id] = {
                    "title": title,
                    "text": f"【{title}】{text}" if title else text,
                    "type": "fact",
                }
            for qa in paragraph["qas"]:
                queries[qa["id"]] = qa["question"]
                meta[qa["id"]] = {"split": split}
                if level == "paragraph":
                    qrels[qa["id"]] = {pid: 1}
                else:
                    start = qa["answers"][0]["answer_start"]
                    s_index = max(i for i, (offset, _) in enumerate(sentences) if offset <= start)
                    qrels[qa["id"]] = {f"{pid}-s{s_index}": 1}
    return BeirData(corpus, queries, qrels, meta)
