"""Ask latency on the real stack: the local Neo4j, the synced index, the real models.

Runs the golden questions through ``SearchService.search`` and ``.ask`` (retrieval, atom reads
from Neo4j, answer composition) in one warm process. Needs `skg setup` and an ingest first.

    .venv/bin/python benchmarks/ask_latency.py
"""

from __future__ import annotations

import json
import resource
import time
from pathlib import Path

import numpy as np

from api import assembly
from api.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    settings = Settings()
    store = assembly.open_store(settings)
    service = assembly.search_service(settings, store, assembly.load_embedder(settings))
    queries = [
        json.loads(line)["text"]
        for line in (ROOT / "data" / "golden" / "queries.jsonl").read_text().splitlines()
    ]
    for text in queries[:20]:
        service.ask(text, 8)  # warm up
    timings: dict[str, list[float]] = {"search": [], "ask": []}
    for text in queries:
        t0 = time.perf_counter()
        service.search(text, 8)
        t1 = time.perf_counter()
        service.ask(text, 8)
        t2 = time.perf_counter()
        timings["search"].append(t1 - t0)
        timings["ask"].append(t2 - t1)
    store.close()
    counts = f"{len(queries)} questions over the graph at {settings.bolt_uri}"
    print(counts)
    for name, values in timings.items():
        ms = np.asarray(values) * 1000
        print(
            f"{name:<7} p50 {np.percentile(ms, 50):6.1f} ms   p95 {np.percentile(ms, 95):6.1f} ms"
        )
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
