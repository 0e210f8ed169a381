"""SalesKG at scale (issue 15): write rate, full sync, search, the change check, an edit's time to
search (the first after the worker's warm-up, and the largest of the next two), RSS per worker
and Neo4j's store size, at 100k atoms and beyond.

Synthetic atoms near real ones: copies of the golden corpus's atoms (data/golden, the sample
atoms) with a copy number in title and text, the base atom's type and mentions, and the base
atom's real vector plus small noise (re-normalised), so no embedding is needed. They are
written through the real ingest writer (``Neo4jGraphStore.write_documents``, 50 atoms per
document, 20 documents per transaction) and their vectors through ``set_embeddings``, into a
Neo4j of the benchmark's own (ports 7731/7531, home .skg/neo4j-scale, heap 2 GiB, page
cache 4 GiB), emptied first. Sizes
grow in one graph: each size adds atoms to the previous one.

    .venv/bin/python benchmarks/scale.py --atoms 100000 300000 1000000
"""

from __future__ import annotations

import argparse
import gc
import json
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from api.assembly import load_embedder, local_server, open_store
from api.evaluate import graph_for_corpus
from api.settings import Settings
from ingest.sources import parse_folder
from kg.access import Writer
from kg.models import Atom, AtomType, CurationStatus, Document, DocumentKind, SourceSpan
from kg.neo4j_store import Neo4jGraphStore, connect
from kg.store import DocumentWrite
from retrieval.evaluation.beir import load_beir
from retrieval.evaluation.benchmark import embed_corpus
from retrieval.index.bundle import IndexBundle
from retrieval.index.change_feed import LAG_S
from retrieval.index.sync import sync_index
from retrieval.index.update import update_index, warm_up
from retrieval.served import freeze_heap, served_retriever

ROOT = Path(__file__).resolve().parents[1]
PER_DOCUMENT = 50
DOCUMENTS_PER_WRITE = 20
VECTOR_BATCH = 2_000
EDIT_WORD = "玄武岩协议"


def scale_settings(bolt: int, http: int, home: Path = ROOT / ".skg" / "neo4j-scale") -> Settings:
    password_file = home.with_name(f"{home.name}.password")
    if not password_file.exists():
        password_file.parent.mkdir(parents=True, exist_ok=True)
        password_file.write_text(secrets.token_urlsafe(18))
        password_file.chmod(0o600)
    return Settings(
        _env_file=None,
        home=ROOT / ".skg",
        neo4j_uri=None,
        neo4j_password=password_file.read_text().strip(),
        neo4j_home=home,
        neo4j_bolt_port=bolt,
        neo4j_http_port=http,
        neo4j_heap="2g",
        neo4j_pagecache="4g",
    )


def write_atoms(store, base, first: int, last: int, embedder_name: str, rng) -> tuple[float, float]:
    """Atoms ``first..last-1`` through the ingest writer, then their vectors; seconds of each."""
    ids, titles, texts, types, mentions, vectors = base
    writer = Writer.operator()
    started = time.perf_counter()
    batch: list[DocumentWrite] = []
    for start in range(first, last, PER_DOCUMENT):
        doc_id = f"scale-doc-{start // PER_DOCUMENT}"
        document = Document(
            id=doc_id,
            path=f"scale/{doc_id}.md",
            collection="scale",
            title=f"合成文档 {start // PER_DOCUMENT}",
            kind=DocumentKind.CASE_STUDY,
            content_hash=doc_id,
        )
        atoms = []
        for n in range(start, min(start + PER_DOCUMENT, last)):
            b = n % len(ids)
            copy = n // len(ids)
            atoms.append(
                Atom(
                    id=f"scale-{n}",
                    type=AtomType(types[b]),
                    title=f"{titles[b]}（第{copy}份）",
                    text=f"{texts[b]} 第{copy}份。",
                    source=SourceSpan(document_id=doc_id, section="合成", start=0, end=1),
                    entities=mentions[b],
                    status=CurationStatus.APPROVED,
                )
            )
        batch.append(
            DocumentWrite(
                document=document,
                link_hash="scale",
                about=[],
                upsert=atoms,
                delete=[],
                mentions={a.id: a.entities for a in atoms},
            )
        )
        if len(batch) == DOCUMENTS_PER_WRITE:
            store.write_documents(batch, writer)
            batch = []
    if batch:
        store.write_documents(batch, writer)
    written = time.perf_counter() - started
    started = time.perf_counter()
    for start in range(first, last, VECTOR_BATCH):
        rows = []
        for n in range(start, min(start + VECTOR_BATCH, last)):
            v = vectors[n % len(ids)] + rng.normal(scale=0.02, size=vectors.shape[1])
            rows.append((f"scale-{n}", (v / np.linalg.norm(v)).astype(np.float32).tolist()))
        store.set_embeddings(rows, embedder_name)
    return written, time.perf_counter() - started


def percentiles(values: list[float]) -> tuple[float, float]:
    ms = np.asarray(values) * 1000
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 95))


def search_latency(bundle: IndexBundle, embedder, questions: list[str]) -> tuple[float, float]:
    analyzer, retriever = served_retriever(bundle, embedder)
    freeze_heap()  # as a worker does after each swap
    for q in questions[:10]:
        retriever.search(analyzer.analyze(q), 10)
    times = []
    for q in questions:
        t0 = time.perf_counter()
        retriever.search(analyzer.analyze(q), 10)
        times.append(time.perf_counter() - t0)
    return percentiles(times)


def worker_rss(index_dir: Path) -> float:
    """RSS (MB) of a fresh process holding what a serving worker holds: the encoder and the
    index with the retrievers over it (Whisper, loaded lazily by voice, not included)."""
    code = (
        "import sys, resource\n"
        "from pathlib import Path\n"
        "from api.assembly import load_embedder\n"
        "from api.settings import Settings\n"
        "from retrieval.index.bundle import IndexBundle\n"
        "from retrieval.served import served_retriever\n"
        f"s = Settings(_env_file=None, home=Path({str(ROOT / '.skg')!r}))\n"
        "e = load_embedder(s)\n"
        "b = IndexBundle.load(Path(sys.argv[1]))\n"
        "a, r = served_retriever(b, e)\n"
        "r.search(a.analyze('热失控怎么防'), 10)\n"
        "rss = [l for l in open('/proc/self/status') if l.startswith('VmRSS')][0].split()[1]\n"
        "print(int(rss) / 1024)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(index_dir)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    if out.returncode != 0:  # e.g. killed for memory: say so, keep the other figures
        print(f"  worker RSS not measured (exit {out.returncode}): {out.stderr[-500:]}")
        return float("nan")
    return float(out.stdout.strip().splitlines()[-1])


def edit_to_search(store, embedder, bundle: IndexBundle, atom_id: str):
    """A curator's edit (curation/06-edit-atom.cypher's writes) of one atom, then a change-feed
    update: seconds of the update, of the whole edit to search (the new generation's retrievers
    built, as a worker swaps them in), and whether it is found."""
    analyzer, _ = served_retriever(bundle, embedder)  # a worker has it already
    # The benchmark plays a curator in Neo4j Browser: raw Cypher, outside the store's methods.
    store._run(
        "MATCH (a:Atom {id: $id}) SET a.text = a.text + $add, a.version = a.version + 1, "
        "a.updated_at = datetime(), a.curated_at = datetime(), a.updated_by = 'bench', "
        "a.embedding = null",
        id=atom_id,
        add=f"{EDIT_WORD}约定每季度复测一次。",
    )
    t0 = time.perf_counter()
    result = update_index(store, embedder, bundle)
    assert result is not None
    updated, _ = result
    t1 = time.perf_counter()
    analyzer, retriever = served_retriever(updated, embedder, analyzer=analyzer)
    freeze_heap()
    found = atom_id in [h.atom_id for h in retriever.search(analyzer.analyze(EDIT_WORD), 10)]
    return t1 - t0, time.perf_counter() - t0, found, updated


def kept_atoms(settings: Settings, keep: bool) -> int:
    """With ``keep``, the atoms an earlier run wrote (in id order, vectors last: those with
    one); without, the graph is emptied first."""
    driver = connect(settings.bolt_uri, settings.neo4j_user, settings.password())
    try:
        with driver.session() as session:
            if keep:
                return int(
                    session.run(
                        "MATCH (a:Atom) WHERE a.id STARTS WITH 'scale-' "
                        "AND a.embedding IS NOT NULL RETURN count(a) AS n"
                    ).single(strict=True)["n"]
                )
            # In batches: one statement over a large graph (even with CALL IN TRANSACTIONS)
            # passed Neo4j's 512 MiB transaction limit at 100k atoms, and so did DETACH DELETE
            # of an entity that 100k atoms mention: relationships first, then nodes.
            for statement in (
                "MATCH ()-[r]->() WITH r LIMIT 20000 DELETE r RETURN count(*) AS n",
                "MATCH (n) WITH n LIMIT 2000 DELETE n RETURN count(*) AS n",
            ):
                while session.run(statement).single(strict=True)["n"]:
                    pass
            return 0
    finally:
        driver.close()


def store_size_mb(settings: Settings) -> float:
    data = settings.neo4j_home_path / "data"
    total = sum(p.stat().st_size for p in data.rglob("*") if p.is_file())
    return total / 1024 / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--atoms", type=int, nargs="+", default=[100_000])
    parser.add_argument("--bolt-port", type=int, default=7731)
    parser.add_argument("--http-port", type=int, default=7531)
    parser.add_argument(
        "--neo4j-home",
        type=Path,
        default=ROOT / ".skg" / "neo4j-scale",
        help="the benchmark's Neo4j (another home keeps another graph)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument(
        "--keep-index",
        type=Path,
        help="keep each size's index bundle under this folder (to profile searches on it)",
    )
    parser.add_argument(
        "--no-settle",
        action="store_true",
        help="measure the check and the edit right after the bulk write, not 2 minutes later",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the atoms an earlier run wrote (with their vectors) and write only the rest",
    )
    args = parser.parse_args()

    settings = scale_settings(args.bolt_port, args.http_port, args.neo4j_home.resolve())
    server = local_server(settings)
    server.resolve()
    started_server = server.start(settings.password())
    rng = np.random.default_rng(5)
    results = []
    work = args.keep_index or Path(tempfile.mkdtemp(prefix="skg-scale-"))
    try:
        kept = kept_atoms(settings, args.keep)
        if kept > min(args.atoms):
            parser.error(f"--keep: the graph holds {kept} atoms, more than {min(args.atoms)}")
        store: Neo4jGraphStore = open_store(settings)
        embedder = load_embedder(settings)
        data = load_beir(ROOT / "data" / "golden")
        _, snapshot = graph_for_corpus(data, ROOT / "data" / "samples")
        parsed = parse_folder(ROOT / "data" / "samples")
        store.upsert_entities(list({e.id: e for p in parsed for e in p.entities}.values()))
        store.upsert_relations([r for p in parsed for r in p.relations])
        ids = list(data.corpus)
        titles = [d["title"] for d in data.corpus.values()]
        texts = [d["text"] for d in data.corpus.values()]
        by_atom: dict[str, list[str]] = {}
        for entity_id, atom_ids in snapshot.mentions.items():
            for atom_id in atom_ids:
                by_atom.setdefault(atom_id, []).append(entity_id)
        types = [snapshot.atoms.get(i, {}).get("type") or "case" for i in ids]
        vectors, _ = embed_corpus(
            embedder,
            [f"{t}\n{x}" for t, x in zip(titles, texts, strict=True)],
            settings.home / "cache" / "embeddings",
        )
        base = (ids, titles, texts, types, [by_atom.get(i, []) for i in ids], vectors)
        questions = list(data.queries.values())
        print(
            f"{'atoms':>8} {'write/s':>8} {'vec/s':>7} {'sync s':>7} {'p50 ms':>7} "
            f"{'p95 ms':>7} {'check ms':>9} {'edit sync s':>12} {'edit→search s':>14} "
            f"{'2nd,3rd s':>10} {'worker MB':>10} {'store MB':>9}",
            flush=True,
        )
        written = kept
        for size in sorted(args.atoms):
            added = max(0, size - written)
            write_s, vector_s = (
                write_atoms(store, base, written, size, embedder.name, rng) if added else (0, 0)
            )
            written_at = time.perf_counter()
            written = max(written, size)
            index_dir = work / f"index-{size}"
            t0 = time.perf_counter()
            sync_index(store, embedder, index_dir, rebuild=True)
            sync_s = time.perf_counter() - t0
            bundle = IndexBundle.load(index_dir)
            p50, p95 = search_latency(bundle, embedder, questions)
            # Steady state: the bulk write has left the feed's lag window (a check right after
            # it counts the atoms in the window; an update reads their stamps).
            settle = LAG_S + 5 - (time.perf_counter() - written_at)
            if settle > 0 and added and not args.no_settle:
                time.sleep(settle)
            store.change_token(LAG_S)
            checks = []
            for _ in range(20):
                t0 = time.perf_counter()
                store.change_token(LAG_S)
                checks.append(time.perf_counter() - t0)
            check_p50, _ = percentiles(checks)
            warm_up(store, embedder.name)  # what a worker's refresher does when it starts
            edits = []
            for share in (2, 3, 4):  # three edits in a row, each on the last one's generation
                edit_s, to_search_s, found, bundle = edit_to_search(
                    store, embedder, bundle, f"scale-{size // share}"
                )
                edits.append((edit_s, to_search_s, found))
            (edit_s, to_search_s, _), later = edits[0], edits[1:]
            found = all(f for _, _, f in edits)
            print(
                f"  measured at {size}: sync {sync_s:.1f} s, search p50/p95 {p50:.1f}/{p95:.1f} "
                f"ms, check {check_p50:.1f} ms, edits {[round(e, 2) for e, _, _ in edits]} s, "
                f"to search {[round(t, 2) for _, t, _ in edits]} s",
                flush=True,
            )
            dense_index = type(bundle.dense.index).__name__
            del bundle  # the worker's RSS is measured in a fresh process: make room for it
            gc.collect()
            rss = worker_rss(index_dir)
            size_mb = store_size_mb(settings)
            row = {
                "atoms": size,
                "write_atoms_per_s": added / write_s if added else None,
                "write_vectors_per_s": added / vector_s if added else None,
                "full_sync_s": sync_s,
                "search_p50_ms": p50,
                "search_p95_ms": p95,
                "change_check_p50_ms": check_p50,
                "edit_sync_s": edit_s,
                "edit_to_search_s": to_search_s,
                "later_edits_sync_s": [e for e, _, _ in later],
                "later_edits_to_search_s": [t for _, t, _ in later],
                "edit_found": found,
                "worker_rss_mb": rss,
                "neo4j_store_mb": size_mb,
                "dense_index": dense_index,
            }
            results.append(row)
            print(
                f"{size:>8} {added / (write_s or 1):>8.0f} {added / (vector_s or 1):>7.0f} "
                f"{sync_s:>7.1f} {p50:>7.1f} {p95:>7.1f} {check_p50:>9.1f} {edit_s:>12.2f} "
                f"{to_search_s:>14.2f} {max(t for _, t, _ in later):>10.2f} {rss:>10.0f} "
                f"{size_mb:>9.0f}" + ("" if found else "  (edit NOT found)"),
                flush=True,
            )
            if args.json:
                args.json.write_text(json.dumps(results, indent=2))
        store.close()
    finally:
        if not args.keep_index:
            shutil.rmtree(work, ignore_errors=True)
        if started_server:
            server.stop()


if __name__ == "__main__":
    main()
