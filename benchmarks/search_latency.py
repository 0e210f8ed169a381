"""Search latency at 10k and 100k atoms: a synthetic scale-up of the sample atoms.

Single process, warm, on this machine. The base is the golden corpus (the sample atoms) with
its real embeddings and its graph (entities, relations, mentions parsed from data/samples).
Each copy gets the base vector plus small noise (re-normalised), the base text with a copy
number, and the base atom's mentions; queries are the 170 golden questions, embedded for real
by the served encoder (SKG_ENCODER).
Atom reads from Neo4j are not part of search (they are one indexed lookup of top_k ids; see
docs/benchmarks.md for ask).

    .venv/bin/python benchmarks/search_latency.py --sizes 10000 100000
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import numpy as np

from api.assembly import load_embedder
from api.evaluate import graph_for_corpus
from api.settings import Settings
from kg.models import DictionaryEntry
from retrieval.crosslingual import load_glossary
from retrieval.embedding.cached import CachedQueryEmbedder
from retrieval.evaluation.beir import load_beir
from retrieval.evaluation.benchmark import embed_corpus
from retrieval.query import QueryAnalyzer
from retrieval.retrievers.dense import DenseRetriever, FaissIndex
from retrieval.retrievers.graph import GraphRetriever, GraphSnapshot
from retrieval.retrievers.hybrid import HybridRetriever
from retrieval.retrievers.lexical import LexicalIndex, LexicalRetriever
from retrieval.served import freeze_heap
from retrieval.tokenize import tokenize

ROOT = Path(__file__).resolve().parents[1]


def scale(size: int, ids, texts, vectors, snapshot: GraphSnapshot, seed: int = 3):
    rng = np.random.default_rng(seed)
    copies = -(-size // len(ids))
    out_ids, out_tokens, out_vectors, mentions, atoms = [], [], [], [], {}
    base_tokens = [tokenize(t) for t in texts]
    by_atom: dict[str, list[str]] = {}
    for entity_id, atom_ids in snapshot.mentions.items():
        for atom_id in atom_ids:
            by_atom.setdefault(atom_id, []).append(entity_id)
    for c in range(copies):
        noise = rng.normal(scale=0.02, size=vectors.shape).astype(np.float32)
        v = vectors + noise
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        for i, atom_id in enumerate(ids):
            new_id = f"{atom_id}-{c}"
            out_ids.append(new_id)
            out_tokens.append([*base_tokens[i], f"第{c}份"])
            mentions += [(new_id, e) for e in by_atom.get(atom_id, [])]
            atoms[new_id] = snapshot.atoms.get(atom_id, {"type": "case", "status": "approved"})
        out_vectors.append(v)
    n = size
    entities = [
        DictionaryEntry(i, name, snapshot.aliases.get(i, []), snapshot.kinds.get(i, ""))
        for i, name in snapshot.names.items()
    ]
    relations = [
        (s, name, t) for s, pairs in snapshot.neighbours.items() for t, name in pairs if s < t
    ]
    kept = set(out_ids[:n])
    graph = GraphSnapshot.build(
        entities,
        relations,
        [m for m in mentions if m[0] in kept],
        {k: v for k, v in atoms.items() if k in kept},
    )
    return out_ids[:n], out_tokens[:n], np.vstack(out_vectors)[:n], graph


def percentile(values, p):
    return float(np.percentile(np.asarray(values) * 1000, p))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument(
        "--methods",
        nargs="+",
        default=["learned"],
        choices=["learned", "weighted"],
        help="learned: the served fusion; weighted: the earlier fixed fusion, for comparison",
    )
    args = parser.parse_args()
    settings = Settings(_env_file=None, home=ROOT / ".skg")
    embedder = load_embedder(settings)  # the served encoder (SKG_ENCODER)
    print(f"encoder: {embedder.name}")
    data = load_beir(ROOT / "data" / "golden")
    dictionary, snapshot = graph_for_corpus(data, ROOT / "data" / "samples")
    ids = list(data.corpus)
    texts = [f"{d['title']}\n{d['text']}" for d in data.corpus.values()]
    vectors, _ = embed_corpus(embedder, texts, settings.home / "cache" / "embeddings")
    analyzer = QueryAnalyzer(dictionary, snapshot.names, glossary=load_glossary())
    queries = list(data.queries.values())
    for text in queries[:20]:
        embedder.embed_queries([text])  # warm up

    print(
        f"{'atoms':>7} {'fusion':>8} {'index':>14} {'build s':>8} {'RSS MB':>7} "
        f"{'p50 ms':>7} {'p95 ms':>7}  p50/p95 ms of embed, dense, lexical, graph, fuse"
    )
    for size in args.sizes:
        started = time.perf_counter()
        s_ids, s_tokens, s_vectors, graph = scale(size, ids, texts, vectors, snapshot)
        dense_index = FaissIndex.build(s_ids, [1] * len(s_ids), s_vectors, embedder.name)
        lexical = LexicalIndex.from_tokens(s_ids, s_tokens)
        build_s = time.perf_counter() - started
        base_text = dict(zip(ids, texts, strict=True))
        for method in args.methods:
            # As served: one cache per retriever, so the ranker's second stage reuses the
            # question's vector; fresh per method, so each search still embeds for real.
            cached = CachedQueryEmbedder(embedder)
            dense = DenseRetriever(cached, dense_index)
            hybrid = HybridRetriever(
                {
                    "dense": dense,
                    "lexical": LexicalRetriever(lexical),
                    "graph": GraphRetriever(graph),
                },
                graph,
                method=method,
                # As served (retrieval/served.py): the learned fusion reads each atom's terms
                # and text and the terms' IDF.
                atom_tokens=dict(zip(s_ids, s_tokens, strict=True)),
                atom_texts={i: ["", base_text[i.rsplit("-", 1)[0]]] for i in s_ids},
                idf=lexical.idf,
                query_vector=cached.embed_query,
                vectors=dense_index.vectors,
            )
            freeze_heap()  # as a worker does after each swap
            totals, parts = measure(
                hybrid, dense_index, analyzer.with_vocabulary(lexical.idf), embedder, queries
            )
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            breakdown = ", ".join(
                f"{percentile(v, 50):.1f}/{percentile(v, 95):.1f}" for v in parts.values()
            )
            print(
                f"{size:>7} {method:>8} {type(dense_index.index).__name__:>14} {build_s:>8.1f} "
                f"{rss:>7.0f} {percentile(totals, 50):>7.1f} {percentile(totals, 95):>7.1f}  "
                f"{breakdown}",
                flush=True,
            )


def measure(hybrid, dense_index, analyzer, embedder, queries):
    """Per question: the whole search, and its parts (embed, dense, lexical, graph, fuse)."""
    parts: dict[str, list[float]] = {k: [] for k in ("embed", "dense", "lexical", "graph", "fuse")}
    totals = []
    for text in queries:
        t0 = time.perf_counter()
        query = analyzer.analyze(text)
        t1 = time.perf_counter()
        vector = embedder.embed_queries([query.dense_text])[0]
        t2 = time.perf_counter()
        dense_index.search(vector, 100)
        t3 = time.perf_counter()
        hybrid._retrievers["lexical"].search(query, 100)
        t4 = time.perf_counter()
        hybrid._retrievers["graph"].search(query, 100)
        t5 = time.perf_counter()
        hybrid.search(query, 8)
        t6 = time.perf_counter()
        parts["embed"].append(t2 - t1)
        parts["dense"].append(t3 - t2)
        parts["lexical"].append(t4 - t3)
        parts["graph"].append(t5 - t4)
        # hybrid.search repeats the three retrievers; the fusion itself is what is left.
        parts["fuse"].append(max(0.0, (t6 - t5) - (t5 - t1)))
        totals.append((t1 - t0) + (t6 - t5))
    return totals, parts


if __name__ == "__main__":
    main()
