"""Follow-up questions on the served path: does a follow-up read with its conversation find
what the question spelled out finds?

For every follow-up of data/conversations/conversations.jsonl (two- and three-turn
conversations over data/samples, each follow-up with the question a rep would type standing
alone), the conversation is read turn by turn (retrieval/answers/followup.py, as the API reads it)
and ranked by the served retriever; agreement is the share of the spelled question's top 5
atoms found in the follow-up's top 5. Beside it, the follow-up ranked as it stands (no
context): what the conversation adds.

The knowledge is the sample atoms (data/golden/corpus.jsonl) indexed in memory as
`skg index sync` would index them (retrieval/evaluation/benchmark.py::corpus_bundle), with the
entity layer of data/samples (aliases merged as ingest merges them). Needs `skg models prepare`.

    .venv/bin/python benchmarks/followups.py [--json OUT] [--show]
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from api import assembly
from api.evaluate import mentions_from_text
from api.settings import Settings
from ingest.sources import parse_folder
from kg.dictionary import EntityDictionary, load_into_jieba
from kg.models import DictionaryEntry
from retrieval.answers.followup import caller_reader
from retrieval.embedding.cached import CachedQueryEmbedder
from retrieval.evaluation.beir import load_beir
from retrieval.evaluation.benchmark import corpus_bundle, embed_corpus
from retrieval.retrievers.graph import GraphSnapshot
from retrieval.retrievers.hybrid import Filters
from retrieval.served import served_retriever

ROOT = Path(__file__).resolve().parents[1]
CONVERSATIONS = ROOT / "data" / "conversations" / "conversations.jsonl"
K = 5


def sample_graph(corpus: dict[str, dict[str, str]], sources: Path) -> GraphSnapshot:
    """The entity layer of ``sources`` linked to the corpus, each entity's aliases merged
    from every source that names it (as ``Neo4jGraphStore.upsert_entities`` merges them)."""
    parsed = parse_folder(sources)
    entries: dict[str, DictionaryEntry] = {}
    for p in parsed:
        for e in p.entities:
            old = entries.get(e.id)
            aliases = (old.aliases if old else []) + [
                a for a in e.aliases if not old or a not in old.aliases
            ]
            entries[e.id] = DictionaryEntry(e.id, e.name, aliases, e.kind.value)
    dictionary = EntityDictionary(entries.values())
    load_into_jieba(dictionary)
    mentions = set(mentions_from_text(corpus, dictionary))
    mentions |= {(a.id, e) for p in parsed for a in p.atoms if a.id in corpus for e in a.entities}
    atoms = {a.id: {"type": a.type.value, "status": "approved"} for p in parsed for a in p.atoms}
    return GraphSnapshot.build(
        entries.values(),
        ((r.source, r.name, r.target) for p in parsed for r in p.relations),
        sorted(mentions),
        atoms,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--show", action="store_true", help="print every reading")
    args = parser.parse_args()
    started = time.perf_counter()
    settings = Settings()
    embedder = assembly.load_embedder(settings)
    data = load_beir(ROOT / "data" / "golden")
    snapshot = sample_graph(data.corpus, ROOT / "data" / "samples")
    vectors, _ = embed_corpus(
        embedder,
        [d["text"] for d in data.corpus.values()],
        settings.home / "cache" / "embeddings",
    )
    analyzer, retriever = served_retriever(
        corpus_bundle(data, vectors, embedder.name, snapshot), CachedQueryEmbedder(embedder)
    )

    def understand(text: str):  # as SearchService.understand, for a caller who sees all
        return retriever.scope(analyzer.analyze(text), None)

    def top(text: str) -> list[str]:
        return [h.atom_id for h in retriever.page(understand(text), 0, K, Filters()).hits]

    reader = caller_reader(understand, snapshot, None)
    conversations = [json.loads(line) for line in CONVERSATIONS.open(encoding="utf-8")]
    rows = []
    for conversation in conversations:
        questions = [t["question"] for t in conversation["turns"]]
        readings = reader.thread(questions)
        for turn, reading in list(zip(conversation["turns"], readings, strict=True))[1:]:
            spelled = top(turn["spelled"])
            rows.append(
                {
                    "id": conversation["id"],
                    "pattern": conversation["pattern"],
                    "asked": reading.asked,
                    "read": reading.text,
                    "spelled": turn["spelled"],
                    "followup": reading.followup,
                    "agreement": len(set(top(reading.text)) & set(spelled)) / K,
                    "alone": len(set(top(reading.asked)) & set(spelled)) / K,
                }
            )
            if args.show:
                print(f"{rows[-1]['agreement']:.1f}  {reading.asked} → {reading.text}")
                print(f"     spelled: {turn['spelled']}")
    by_pattern: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        by_pattern[row["pattern"]].append(row)
    print(
        f"{len(conversations)} conversations, {len(rows)} follow-ups; agreement of top {K} "
        "with the question spelled out"
    )
    print(f"  {'pattern':<14} {'n':>3}  {'read with context':>17}  {'as it stands':>12}")
    figures = {}
    for pattern, group in [*sorted(by_pattern.items()), ("all", rows)]:
        read = float(np.mean([r["agreement"] for r in group]))
        alone = float(np.mean([r["alone"] for r in group]))
        figures[pattern] = {"n": len(group), "agreement": read, "alone": alone}
        print(f"  {pattern:<14} {len(group):>3}  {read:>17.3f}  {alone:>12.3f}")
    exact = np.mean([r["read"].rstrip("？?") == r["spelled"].rstrip("？?") for r in rows])
    print(f"  readings identical to the spelled question: {exact:.2f}")
    print(f"  ({time.perf_counter() - started:.0f} s, embedder {embedder.name})")
    if args.json:
        args.json.write_text(
            json.dumps({"figures": figures, "rows": rows}, ensure_ascii=False, indent=1)
        )


if __name__ == "__main__":
    main()
