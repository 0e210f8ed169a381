"""One very large document, and a zip bomb: what ingest costs and refuses.

1. A JSONL export of N atoms (default 100,000) in one file is ingested through the real
   pipeline into the benchmarks' own Neo4j (ports 7689/7476, emptied first): time, peak RSS,
   transactions, and that every atom landed with no staged leftovers. Before the fix one
   transaction held the whole document and Neo4j answered MemoryPoolOutOfMemoryError.
2. A .docx of 278 KB that unzips to about 104 MB (the probe's file) is refused: time to refuse.

No embedding: this measures the writer and the limits, not the model.

    .venv/bin/python benchmarks/large_document.py --atoms 100000
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import tempfile
import time
import zipfile
from pathlib import Path

from bench_instance import bench_settings

from api import assembly
from ingest.limits import ParseLimits
from ingest.pipeline import IngestOptions, ingest_paths
from kg.neo4j_store import connect


def export(folder: Path, atoms: int) -> Path:
    path = folder / "crm-export.jsonl"
    with path.open("w", encoding="utf-8") as f:
        for i in range(atoms):
            record = {
                "id": f"r{i}",
                "type": "field_note",
                "text": f"第{i}条现场纪要：客户关注热失控防护方案的交付周期与成组效率。",
                "customer": ["宁德时代", "比亚迪", "吉利汽车"][i % 3],
            }
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


def docx_bomb(folder: Path) -> Path:
    body = "<w:p><w:r><w:t>" + "热失控防护方案" * (104 * 1024 * 1024 // 21) + "</w:t></w:r></w:p>"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", body)
    path = folder / "bomb.docx"
    path.write_bytes(buffer.getvalue())
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--atoms", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000, help="atoms per transaction")
    args = parser.parse_args()
    settings = bench_settings()
    server = assembly.local_server(settings)
    server.resolve()
    server.start(settings.password())
    driver = connect(settings.bolt_uri, settings.neo4j_user, settings.password())
    with driver.session() as session:  # CALL ... IN TRANSACTIONS needs an auto-commit query
        session.run(
            "MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS"
        ).consume()
    store = assembly.open_store(settings)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "export"
        folder.mkdir()
        export(folder, args.atoms)
        started = time.perf_counter()
        report = ingest_paths([folder], store, IngestOptions(batch_atoms=args.batch))
        seconds = time.perf_counter() - started
        atoms, staged = (
            driver.execute_query(f"MATCH (a:{label}) RETURN count(a) AS n").records[0]["n"]
            for label in ("Atom", "StagedAtom")
        )
        print(f"one document of {args.atoms:,} atoms, transactions of {args.batch}:")
        print(f"  failures {report.failures}")
        print(
            f"  {seconds:.1f} s ({args.atoms / seconds:,.0f} atoms/s), "
            f"atoms in the graph {atoms:,}, staged left {staged}"
        )
        print(
            "  peak RSS of this process "
            f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB"
        )
        again = time.perf_counter()
        unchanged = ingest_paths([folder], store, IngestOptions(batch_atoms=args.batch))
        print(
            f"  re-ingest unchanged: {time.perf_counter() - again:.1f} s, "
            f"{unchanged.atoms_unchanged:,} unchanged"
        )

        bombs = Path(tmp) / "bombs"
        bombs.mkdir()
        bomb = docx_bomb(bombs)
        started = time.perf_counter()
        refused = ingest_paths([bombs], store, IngestOptions(limits=ParseLimits()))
        print(
            f"zip bomb: {bomb.stat().st_size / 1024:.0f} KB file, refused in "
            f"{time.perf_counter() - started:.2f} s: {refused.failures[0][1][:80]}"
        )
    store.close()
    driver.close()


if __name__ == "__main__":
    main()
