"""Assembly for `skg eval`: BEIR data, an optional graph from source files, the report."""

from __future__ import annotations

from pathlib import Path

from ingest.sources import parse_folder
from kg.dictionary import EntityDictionary, load_into_jieba
from kg.store import DictionaryEntry
from retrieval.beir import BeirData
from retrieval.evaluation import mentions_from_text
from retrieval.graph import GraphSnapshot


def graph_for_corpus(data: BeirData, sources: Path) -> tuple[EntityDictionary, GraphSnapshot]:
    """The entity layer of a folder of sources, linked to a BEIR corpus's documents.

    For the golden set the corpus is the atoms of the same folder, so the graph is exactly the
    one `skg ingest` would build, without touching Neo4j.
    """
    parsed = parse_folder(sources)
    entities = {e.id: e for p in parsed for e in p.entities}
    dictionary = EntityDictionary(
        DictionaryEntry(e.id, e.name, e.aliases, e.kind.value) for e in entities.values()
    )
    load_into_jieba(dictionary)
    atom_entities = {a.id: a.entities for p in parsed for a in p.atoms}
    mentions = set(mentions_from_text(data.corpus, dictionary))
    mentions |= {(a, e) for a, ids in atom_entities.items() if a in data.corpus for e in ids}
    atoms = {a.id: {"type": a.type.value, "status": "approved"} for p in parsed for a in p.atoms}
    snapshot = GraphSnapshot.build(
        (DictionaryEntry(e.id, e.name, e.aliases, e.kind.value) for e in entities.values()),
        ((r.source, r.name, r.target) for p in parsed for r in p.relations),
        sorted(mentions),
        atoms,
    )
    return dictionary, snapshot
