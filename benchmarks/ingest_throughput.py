"""Ingest throughput: atoms/s for a first ingest and for a re-ingest of the unchanged corpus.

Runs against a dedicated local Neo4j instance (ports 7689/7476, home .skg/neo4j-bench), which it
empties first, with the real embedding model. Embedding is included in the timings: as
`skg ingest` does, atoms are embedded in the background while ingest parses and writes
("ingest s"), and the index sync takes those vectors and embeds what is left ("sync s").

    .venv/bin/python benchmarks/ingest_throughput.py --atoms 2000
"""

from __future__ import annotations

import argparse
import random
import resource
import shutil
import tempfile
import time
from pathlib import Path

from bench_instance import bench_settings

from api import assembly
from ingest.pipeline import ingest_paths
from kg.neo4j_store import connect
from retrieval.embedding.prefetch import PrefetchingEmbedder
from retrieval.index.sync import sync_index

CUSTOMERS = ["宁德时代", "比亚迪", "吉利汽车", "三一重工", "晶川能源", "芯湃微电子", "华锐汽车电子"]
TOPICS = ["热失控防护", "焊装线节拍", "光伏逆变器出海", "ASIL-D功能安全", "光刻胶替代", "智能排班"]
SECTIONS = ["背景", "挑战", "方案", "成果", "推荐话术"]


def synthetic_corpus(folder: Path, atoms: int, seed: int = 7) -> int:
    """Short case-study atoms (60-120 characters), five per document."""
    rng = random.Random(seed)
    (folder / "cases").mkdir(parents=True)
    docs = atoms // len(SECTIONS)
    for n in range(docs):
        customer, topic = rng.choice(CUSTOMERS), rng.choice(TOPICS)
        lines = [
            "---",
            "类型: 成功案例",
            f"客户: {customer}",
            "---",
            f"# {customer}{topic}项目{n}",
            "",
        ]
        for section in SECTIONS:
            figure = rng.randint(3, 98)
            lines += [
                f"## {section}",
                f"{customer}的{topic}项目第{n}期：{section}阶段，关键指标改善{figure}%，"
                f"周期缩短{rng.randint(2, 20)}周，采购总监认可我司的{topic}方案与本地化服务。",
                "",
            ]
        (folder / "cases" / f"case-{n:05d}.md").write_text("\n".join(lines), encoding="utf-8")
    return docs * len(SECTIONS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--atoms", type=int, default=2000)
    args = parser.parse_args()

    settings = bench_settings()
    server = assembly.local_server(settings)
    server.resolve()
    started = server.start(settings.password())
    work = Path(tempfile.mkdtemp(prefix="skg-bench-"))
    try:
        driver = connect(settings.bolt_uri, settings.neo4j_user, settings.password())
        with driver.session() as session:  # in batches: another benchmark may have left 100k atoms
            session.run("MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS").consume()
        driver.close()
        corpus = work / "corpus"
        total = synthetic_corpus(corpus, args.atoms)
        store = assembly.open_store(settings)
        embedder = assembly.load_embedder(settings)
        embedder.embed_passages(["预热"])

        rows = []
        for label in ("first ingest", "re-ingest (unchanged)"):
            # As `skg ingest` does: atoms are embedded while ingest parses and writes.
            ahead = PrefetchingEmbedder(embedder)
            t0 = time.perf_counter()
            report = ingest_paths([corpus], store, on_atoms=ahead.prefetch)
            t1 = time.perf_counter()
            sync = sync_index(store, ahead, work / "index")
            t2 = time.perf_counter()
            ahead.close()
            rows.append((label, report, sync, t1 - t0, t2 - t1, t2 - t0))
        store.close()
    finally:
        if started:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"corpus: {total} atoms in {total // len(SECTIONS)} documents")
    print(
        f"{'run':<24}{'written':>8}{'embedded':>9}{'ingest s':>10}{'sync s':>9}"
        f"{'total s':>9}{'atoms/s':>10}"
    )
    for label, report, sync, ingest_s, embed_s, total_s in rows:
        print(
            f"{label:<24}{report.atoms_written:>8}{sync.embedded:>9}{ingest_s:>10.2f}"
            f"{embed_s:>9.2f}{total_s:>9.2f}{total / total_s:>10.1f}"
        )
    print(f"speed-up of the re-ingest: {rows[0][5] / rows[1][5]:.1f}x")
    print(f"peak memory of this process (RSS): {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
