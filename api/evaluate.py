"""Assembly for `skg eval`: the evaluation sets and their splits, the graph of a corpus from
source files, and the report's rows (docs/retrieval.md, "Evaluation")."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ingest.sources import parse_folder
from kg.dictionary import EntityDictionary, load_into_jieba
from kg.errors import BadQueryError
from kg.models import DictionaryEntry
from retrieval.evaluation.beir import (
    BeirData,
    cmrc_to_beir,
    kdconv_to_beir,
    load_splits,
    write_qrels,
    write_trec_run,
)
from retrieval.evaluation.benchmark import EvalResult
from retrieval.retrievers.graph import GraphSnapshot

SPLITS = ("dev", "test")
STYLES = ("english", "code_mixed", "homophone", "abbreviation", "elliptical", "colloquial", "plain")
RUN_FILES = {"rrf(dense,lexical)": "rrf"}  # system -> run file stem, where the name won't do


@dataclass
class EvalCorpus:
    """One corpus and the question sets judged on it, ranked together.

    ``query_meta[q]`` of ``data`` names each question's ``set`` and ``split`` (and ``style``
    where the set has styles); ``by_style`` lists the sets reported per style as well.
    """

    name: str
    data: BeirData
    snapshot: GraphSnapshot | None = None
    by_style: tuple[str, ...] = ()


@dataclass(frozen=True)
class Row:
    set: str
    split: str
    style: str  # "" for the whole split
    qids: list[str] = field(hash=False)


def mentions_from_text(
    corpus: dict[str, dict[str, str]], dictionary: EntityDictionary
) -> list[tuple[str, str]]:
    return [
        (doc_id, entity_id)
        for doc_id, doc in corpus.items()
        for entity_id in dictionary.entity_ids(f"{doc['title']}\n{doc['text']}")
    ]


def graph_for_corpus(data: BeirData, sources: Path) -> tuple[EntityDictionary, GraphSnapshot]:
    """The entity layer of a folder of sources, linked to a BEIR corpus's documents.

    For the golden set the corpus is the atoms of the same folder, so the graph is exactly the
    one `skg ingest` would build, without touching Neo4j.
    """
    parsed = parse_folder(sources)
    entities = {e.id: e for p in parsed for e in p.entities}
    aliases: dict[str, list[str]] = {}  # every document's aliases of an entity, as ingest keeps
    for e in (e for p in parsed for e in p.entities):
        aliases[e.id] = list(dict.fromkeys([*aliases.get(e.id, []), *e.aliases]))
    entries = [
        DictionaryEntry(e.id, e.name, aliases[e.id], e.kind.value) for e in entities.values()
    ]
    dictionary = EntityDictionary(entries)
    load_into_jieba(dictionary)
    atom_entities = {a.id: a.entities for p in parsed for a in p.atoms}
    mentions = set(mentions_from_text(data.corpus, dictionary))
    mentions |= {(a, e) for a, ids in atom_entities.items() if a in data.corpus for e in ids}
    atoms = {a.id: {"type": a.type.value, "status": "approved"} for p in parsed for a in p.atoms}
    snapshot = GraphSnapshot.build(
        entries,
        ((r.source, r.name, r.target) for p in parsed for r in p.relations),
        sorted(mentions),
        atoms,
    )
    return dictionary, snapshot


def named_set(data: BeirData, name: str) -> BeirData:
    """``data`` with every judged question marked as belonging to set ``name``."""
    for qid in data.qrels:
        data.query_meta.setdefault(qid, {})["set"] = name
    return data


def merged(*sets: BeirData) -> BeirData:
    """Question sets judged on one corpus, as one (their query ids must differ)."""
    first = sets[0]
    out = BeirData(first.corpus, {}, {}, {})
    for data in sets:
        if data.corpus is not first.corpus and data.corpus != first.corpus:
            raise BadQueryError("the sets to merge judge different corpora")
        if clash := out.qrels.keys() & data.qrels.keys():
            raise BadQueryError(f"query ids used by two sets: {sorted(clash)[:5]}")
        out.queries.update({q: data.queries[q] for q in data.qrels if q in data.queries})
        out.qrels.update(data.qrels)
        out.query_meta.update({q: data.query_meta[q] for q in data.qrels})
    return out


def folder_corpus(
    folder: Path, split: str, corpus: Path | None = None, graph_from: Path | None = None
) -> EvalCorpus:
    """A BEIR folder judged by ``qrels/<split>.tsv``; per style when its queries have styles."""
    data = named_set(load_splits(folder, (split,), corpus=corpus), folder.name)
    snapshot = graph_for_corpus(data, graph_from)[1] if graph_from else None
    styled = any(data.query_meta[q].get("style") for q in data.qrels)
    return EvalCorpus(folder.name, data, snapshot, (folder.name,) if styled else ())


def cmrc_corpus(path: Path, level: str, *, titled: bool, split: str = "all") -> EvalCorpus:
    name = f"cmrc-{level}-{'titled' if titled else 'untitled'}"
    data = named_set(cmrc_to_beir(path, level, titled=titled).only(split), name)
    return EvalCorpus(name, data)


def kdconv_corpus(root: Path) -> EvalCorpus | None:
    """KdConv travel (``kdconv_to_beir``) when data/eval/kdconv_travel is there."""
    folder = root / "data" / "eval" / "kdconv_travel"
    if not (folder / "kb_travel.json").is_file():
        return None
    data = named_set(kdconv_to_beir(folder / "kb_travel.json", folder / "dev.json"), "kdconv")
    return EvalCorpus("kdconv", data)


def sales_corpus(root: Path) -> EvalCorpus:
    """The golden and colloquial sets (and the known-item set where there is one), both splits,
    on the golden corpus with the graph of data/samples; the colloquial set per style too."""
    golden_corpus = root / "data" / "golden" / "corpus.jsonl"
    sets = [named_set(load_splits(root / "data" / "golden", SPLITS), "golden")]
    for name in ("colloquial", "known_item"):
        if name == "colloquial" or (root / "data" / name).is_dir():
            data = load_splits(root / "data" / name, SPLITS, corpus=golden_corpus)
            sets.append(named_set(data, name))
    data = merged(*sets)
    _, snapshot = graph_for_corpus(data, root / "data" / "samples")
    return EvalCorpus("golden", data, snapshot, ("colloquial",))


def suite(root: Path) -> Iterator[EvalCorpus]:
    """Every set, both splits: the CMRC 2018 trial at sentence level, untitled and titled,
    KdConv travel (grounded dialogue, not tuned on), then the golden and colloquial sets
    (``sales_corpus``).

    Yielded one at a time, CMRC first: the sales graph's names go into jieba's dictionary when
    its graph is built, and CMRC must be tokenised as `skg eval --cmrc` alone tokenises it.
    """
    cmrc = root / "data" / "eval" / "cmrc2018" / "cmrc2018_trial.json"
    for titled in (False, True):
        yield cmrc_corpus(cmrc, "sentence", titled=titled)
    if kdconv := kdconv_corpus(root):
        yield kdconv
    yield sales_corpus(root)


def rows(corpus: EvalCorpus) -> list[Row]:
    """Each set's splits (dev first), then, for sets by style, each style's splits."""
    meta = corpus.data.query_meta
    qids = list(corpus.data.qrels)
    sets = list(dict.fromkeys(meta[q]["set"] for q in qids))
    splits = sorted({meta[q]["split"] for q in qids}, key=lambda s: (s not in SPLITS, s))
    out = []
    for name in sets:
        for split in splits:
            chosen = [q for q in qids if meta[q]["set"] == name and meta[q]["split"] == split]
            if chosen:
                out.append(Row(name, split, "", chosen))
        if name not in corpus.by_style:
            continue
        found = {meta[q].get("style", "") for q in qids if meta[q]["set"] == name}
        for style in [*(s for s in STYLES if s in found), *sorted(found - set(STYLES))]:
            for split in splits:
                chosen = [
                    q
                    for q in qids
                    if (meta[q]["set"], meta[q]["split"], meta[q].get("style", ""))
                    == (name, split, style)
                ]
                if chosen:
                    out.append(Row(name, split, style, chosen))
    return out


def report(corpus: EvalCorpus, result: EvalResult) -> list[dict[str, object]]:
    """One flat record per row and system: set, split, style, queries, system, the metrics."""
    records: list[dict[str, object]] = []
    for row in rows(corpus):
        for system, metrics in result.metrics(row.qids).items():
            records.append(
                {
                    "corpus": corpus.name,
                    "set": row.set,
                    "split": row.split,
                    "style": row.style,
                    "queries": len(row.qids),
                    "system": system,
                    **{k: round(v, 4) for k, v in metrics.items()},
                }
            )
    return records


def write_runs(directory: Path, corpus: EvalCorpus, result: EvalResult) -> Path:
    """``<directory>/<corpus>/``: a TREC run per system (top 100 with scores), ``qrels.tsv`` and
    ``queries.tsv`` (id, set, split, style, text), everything needed to fuse offline."""
    out = directory / corpus.name
    out.mkdir(parents=True, exist_ok=True)
    for system, runs in result.runs.items():
        stem = RUN_FILES.get(system, system)
        write_trec_run(out / f"{stem}.trec", runs, tag=f"saleskg-{stem}")
    write_qrels(out / "qrels.tsv", corpus.data.qrels)
    with (out / "queries.tsv").open("w", encoding="utf-8") as f:
        f.write("query-id\tset\tsplit\tstyle\ttext\n")
        for qid in corpus.data.qrels:
            m = corpus.data.query_meta[qid]
            text = corpus.data.queries.get(qid, "").replace("\t", " ").replace("\n", " ")
            f.write(f"{qid}\t{m['set']}\t{m['split']}\t{m.get('style', '')}\t{text}\n")
    return out
