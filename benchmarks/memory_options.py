"""Dense index options by size (issue 15): exact, HNSW (float32), HNSW over fp16 scalars, and
IVF-PQ: recall@10 against exact search, single-query latency, build time and memory.

Vectors near real ones: the golden corpus's e5 vectors (data/golden, embedded by the served
encoder, cached) plus small noise, re-normalised; queries are the golden questions' vectors
plus noise. Memory is the serialised index size (what the index holds in RAM; FAISS keeps no
more than that) and the process's peak RSS after each build.

    .venv/bin/python benchmarks/memory_options.py --sizes 100000 1000000
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import faiss
import numpy as np

from api.assembly import load_embedder
from api.settings import Settings
from retrieval.evaluation.beir import load_beir
from retrieval.evaluation.benchmark import embed_corpus
from retrieval.retrievers.dense import HNSW_EF_SEARCH, HNSW_M

ROOT = Path(__file__).resolve().parents[1]
QUERIES = 300


def synthetic(base: np.ndarray, n: int, rng: np.random.Generator, scale: float) -> np.ndarray:
    out = np.empty((n, base.shape[1]), dtype=np.float32)
    for start in range(0, n, 100_000):
        rows = np.arange(start, min(start + 100_000, n)) % len(base)
        v = base[rows] + rng.normal(scale=scale, size=(len(rows), base.shape[1]))
        out[start : start + len(rows)] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out


def options(dims: int, n: int) -> dict[str, faiss.Index]:
    ip = faiss.METRIC_INNER_PRODUCT
    hnsw = faiss.IndexHNSWFlat(dims, HNSW_M, ip)
    hnsw_sq = faiss.IndexHNSWSQ(dims, faiss.ScalarQuantizer.QT_fp16, HNSW_M, ip)
    lists = int(4 * np.sqrt(n))
    ivfpq = faiss.IndexIVFPQ(faiss.IndexFlatIP(dims), dims, lists, 48, 8, ip)
    for index in (hnsw, hnsw_sq):
        index.hnsw.efConstruction = 80
    return {"exact": faiss.IndexFlatIP(dims), "hnsw": hnsw, "hnsw-fp16": hnsw_sq, "ivfpq48": ivfpq}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000])
    parser.add_argument("--noise", type=float, default=0.02)
    args = parser.parse_args()
    settings = Settings(_env_file=None, home=ROOT / ".skg")
    embedder = load_embedder(settings)
    data = load_beir(ROOT / "data" / "golden")
    texts = [f"{d['title']}\n{d['text']}" for d in data.corpus.values()]
    base, _ = embed_corpus(embedder, texts, settings.home / "cache" / "embeddings")
    questions = embedder.embed_queries(list(data.queries.values()))
    rng = np.random.default_rng(9)
    print(
        f"{'atoms':>8} {'index':>10} {'build s':>8} {'MB':>7} {'peak RSS MB':>12} "
        f"{'recall@10':>10} {'p50 ms':>7} {'p95 ms':>7}",
        flush=True,
    )
    for n in args.sizes:
        vectors = synthetic(base, n, rng, args.noise)
        queries = synthetic(questions, QUERIES, rng, args.noise)
        truth = None
        for name, index in options(vectors.shape[1], n).items():
            t0 = time.perf_counter()
            if not index.is_trained:
                sample = vectors[rng.choice(n, size=min(n, 100_000), replace=False)]
                index.train(sample)
            index.add(vectors)
            build_s = time.perf_counter() - t0
            if isinstance(index, faiss.IndexHNSW):
                index.hnsw.efSearch = HNSW_EF_SEARCH
            if isinstance(index, faiss.IndexIVF):
                index.nprobe = 32
            times, found = [], []
            for q in queries:
                t0 = time.perf_counter()
                _, rows = index.search(q.reshape(1, -1), 10)
                times.append(time.perf_counter() - t0)
                found.append(rows[0])
            if truth is None:
                truth = found
            recall = np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth, strict=True)])
            size_mb = len(faiss.serialize_index(index)) / 1024 / 1024
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            ms = np.asarray(times) * 1000
            print(
                f"{n:>8} {name:>10} {build_s:>8.1f} {size_mb:>7.0f} {peak:>12.0f} "
                f"{recall:>10.3f} {np.percentile(ms, 50):>7.2f} {np.percentile(ms, 95):>7.2f}",
                flush=True,
            )
            del index


if __name__ == "__main__":
    main()
