"""The running server's change check (`GraphStore.graph_fingerprint`) as the graph grows.

A running server asks Neo4j for this fingerprint every ``SKG_INDEX_REFRESH_SECONDS`` in each
worker, so its cost sets how short that interval can be. The graph is synthetic, written
straight in Cypher (no embedding): atoms of 90-150 characters, one entity per 20 atoms,
three mentions per atom. Runs against a dedicated local Neo4j instance (ports 7689/7476, home
.skg/neo4j-bench), which it empties first.

    .venv/bin/python benchmarks/refresh_check.py --sizes 1000 10000 100000
"""

from __future__ import annotations

import argparse
import statistics
import time

from bench_instance import bench_settings

from api import assembly
from kg.neo4j_store import connect

BATCH = 5_000

# Synthetic atoms shaped like ingested ones (the fields the fingerprint reads, and a body of
# realistic length). Benchmark data only: it never touches the demo's or the tests' instance.
WRITE_ATOMS = """
UNWIND range($first, $last) AS n
CREATE (a:Atom {
  id: 'bench-' + toString(n), version: 1, type: 'case_fact', status: 'approved',
  visibility: 'public', team: null, owner: '销售' + toString(n % 37),
  title: '客户' + toString(n % 997) + '热失控防护项目第' + toString(n) + '期',
  text: '客户' + toString(n % 997) + '的热失控防护项目第' + toString(n)
        + '期：方案阶段，关键指标改善' + toString(n % 90) + '%，周期缩短' + toString(n % 19)
        + '周，采购总监认可我司的热失控防护方案与本地化服务，'
        + '试点产线在三个月内完成验收，并计划在二期扩展到全部电芯模组产线。'
        + substring('然而竞品报价低百分之十五，客户更关心长期运维成本与备件响应时间。', 0, n % 30)
})
WITH a, n
UNWIND [n % $entities, (n * 7 + 1) % $entities, (n * 13 + 2) % $entities] AS e
MERGE (x:Entity {id: 'bench-entity-' + toString(e)})
  ON CREATE SET x.name = '实体' + toString(e), x.kind = 'term', x.aliases = []
MERGE (a)-[:MENTIONS]->(x)
"""


def empty(driver) -> None:
    with driver.session() as session:  # CALL ... IN TRANSACTIONS needs an auto-commit query
        session.run("MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS").consume()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    settings = bench_settings()
    server = assembly.local_server(settings)
    server.resolve()
    started = server.start(settings.password())
    try:
        driver = connect(settings.bolt_uri, settings.neo4j_user, settings.password())
        empty(driver)
        store = assembly.open_store(settings)
        entities = max(args.sizes) // 20
        print(f"{'atoms':>8}{'entities':>10}{'write s':>9}{'check p50 s':>13}{'check max s':>13}")
        written = 0
        for size in sorted(args.sizes):
            t0 = time.perf_counter()
            for first in range(written, size, BATCH):
                last = min(first + BATCH, size) - 1
                driver.execute_query(WRITE_ATOMS, first=first, last=last, entities=entities)
            write_s = time.perf_counter() - t0
            written = size
            store.graph_fingerprint()  # warm the page cache and the query plan
            times = []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                store.graph_fingerprint()
                times.append(time.perf_counter() - t0)
            linked = driver.execute_query("MATCH (e:Entity) RETURN count(e) AS n")[0][0]["n"]
            print(
                f"{size:>8}{linked:>10}{write_s:>9.1f}{statistics.median(times):>13.3f}"
                f"{max(times):>13.3f}"
            )
        store.close()
        empty(driver)
        driver.close()
    finally:
        if started:
            server.stop()


if __name__ == "__main__":
    main()
