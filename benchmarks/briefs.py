"""Briefs and pushes on the sample knowledge: precision of the briefs' points per section
(judged by reading them: data/briefs/judgments.tsv), brief latency p50/p95 in a warm process,
and precision and recall of the push rules on data/briefs/events.jsonl.

Runs its own Neo4j (ports 7707/7494, home .skg/neo4j-briefs; stopped at the end when this run
started it), loads data/samples into it when it is empty, syncs an index under
.skg/briefs-bench, and composes every context of data/briefs/contexts.jsonl as an API key
without a team sees it (public knowledge), through the served retriever.

    .venv/bin/python benchmarks/briefs.py [--rounds 5] [--json OUT] [--dump POINTS.tsv]

``--dump`` writes every point (context, section, atom, title, text) for judging; judgments are
``context<TAB>section<TAB>atom_id<TAB>1|0<TAB>why``. Points without a judgment are counted and
listed, never guessed.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import secrets
import time
import uuid
from collections import defaultdict
from pathlib import Path

import numpy as np

from api import assembly
from api.push_rules import DEFAULT_RULES
from api.schemas import BriefRequest, EventCreate
from api.settings import Settings
from api.signals import PushPlanner
from ingest.pipeline import ingest_paths
from kg.access import Scope, Viewer
from retrieval.answers.brief import BriefComposer
from retrieval.answers.brief_sections import Brief
from retrieval.index.bundle import IndexBundle
from retrieval.index.sync import sync_index
from retrieval.served import served_retriever

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "briefs"
HOME = ROOT / ".skg"


def bench_settings(bolt: int, http: int) -> Settings:
    password_file = HOME / "neo4j-briefs.password"
    if not password_file.exists():
        password_file.parent.mkdir(parents=True, exist_ok=True)
        password_file.write_text(secrets.token_urlsafe(18))
        password_file.chmod(0o600)
    return Settings(
        _env_file=None,
        home=HOME,
        neo4j_uri=None,
        neo4j_password=password_file.read_text().strip(),
        neo4j_home=HOME / "neo4j-briefs",
        neo4j_bolt_port=bolt,
        neo4j_http_port=http,
        index_dir=HOME / "briefs-bench" / "index",
    )


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def read_judgments(path: Path) -> dict[tuple[str, str], bool]:
    judged = {}
    with path.open(encoding="utf-8") as f:
        for row in csv.reader(f, delimiter="\t"):
            if row and not row[0].startswith("#") and row[0] != "context":
                judged[(row[0], row[2])] = row[3].strip() == "1"
    return judged


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values) * 1000, q))


def measure_briefs(composer: BriefComposer, contexts: list[dict], rounds: int, dump: Path | None):
    viewer = Viewer("bench", "bench", frozenset({Scope.ASK}))  # no team: public knowledge
    fields = {k for k in BriefRequest.model_fields}
    requests = {c["id"]: BriefRequest.model_validate({k: v for k, v in c.items() if k in fields})
                for c in contexts}  # fmt: skip
    briefs: dict[str, Brief] = {}
    for cid, request in requests.items():  # warm-up, and the briefs judged
        briefs[cid] = composer.compose(request.context(), viewer.can_see)
    timings = []
    for _ in range(rounds):
        for request in requests.values():
            start = time.perf_counter()
            composer.compose(request.context(), viewer.can_see)
            timings.append(time.perf_counter() - start)
    rows = []
    for cid, brief in briefs.items():
        cited = {c.number: c for c in brief.citations}
        for section in brief.sections:
            for point in section.points:
                citation = cited[point.citations[0]]
                rows.append(
                    (cid, section.heading, citation.atom_id, citation.atom_title, point.text)
                )
    if dump:
        with dump.open("w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f, delimiter="\t")
            writer.writerow(["context", "section", "atom_id", "title", "text"])
            writer.writerows(rows)
    return briefs, rows, timings


def report_precision(rows, judgments, briefs, splits: dict[str, str]) -> dict:
    """Precision per section and overall, on all contexts and per split (dev: the contexts
    read while the composition was tuned; test: written and judged after it was frozen)."""
    judged: dict[tuple[str, str], list[bool]] = defaultdict(list)
    unjudged = []
    for cid, heading, atom_id, title, _ in rows:
        if (cid, atom_id) not in judgments:
            unjudged.append((cid, heading, atom_id, title))
            continue
        for split in ("all", splits.get(cid, "dev")):
            judged[(heading, split)].append(judgments[(cid, atom_id)])
            judged[("overall", split)].append(judgments[(cid, atom_id)])
    empty: dict[str, int] = defaultdict(int)
    shown: dict[str, int] = defaultdict(int)
    for brief in briefs.values():
        for section in brief.sections:
            shown[section.heading] += 1
            empty[section.heading] += not section.points
    headings = sorted(
        {h for h, _ in judged if h != "overall"}, key=lambda h: -len(judged[(h, "all")])
    )
    figures: dict[str, dict] = {}
    print(f"\n{'section':<14} {'points':>6} {'precision':>9} {'dev':>12} {'test':>12} {'empty':>9}")
    for heading in [*headings, "overall"]:
        cells = {}
        for split in ("all", "dev", "test"):
            values = judged.get((heading, split), [])
            cells[split] = (sum(values) / len(values), len(values)) if values else (None, 0)
        figures[heading] = {split: {"precision": p, "points": n} for split, (p, n) in cells.items()}

        blanks = f"{empty[heading]:>4} / {shown[heading]:<3}" if heading in shown else ""
        all_, dev, test = (_cell(*cells[split]) for split in ("all", "dev", "test"))
        print(f"{heading:<14} {cells['all'][1]:>6} {all_[:5]:>9} {dev:>12} {test:>12} {blanks}")
    print(f"unjudged points: {len(unjudged)}")
    for row in unjudged[:40]:
        print("  ", *row)
    return figures


def _cell(precision: float | None, points: int) -> str:
    return f"{precision:.3f} ({points})" if precision is not None else "-"


def measure_pushes(store, composer: BriefComposer, events: list[dict]) -> dict:
    run = uuid.uuid4().hex[:8]  # a fresh namespace: no history from earlier runs
    viewer = Viewer(f"bench-{run}", "bench", frozenset({Scope.ASK}), team=f"bench-{run}")
    planner = PushPlanner(store, composer, DEFAULT_RULES, per_hour=0)
    tp = fp = fn = 0
    right_events = 0
    misses = []
    for row in events:
        outcomes = planner.handle(EventCreate.model_validate(row["event"]), viewer)
        pushed = {o.rule_id for o in outcomes if o.state == "queued"}
        expected = set(row["expect"])
        tp += len(pushed & expected)
        fp += len(pushed - expected)
        fn += len(expected - pushed)
        right_events += pushed == expected
        if pushed != expected:
            states = {o.rule_id: o.state for o in outcomes}
            misses.append((row["id"], sorted(expected), sorted(pushed), states, row["why"]))
    precision = tp / max(tp + fp, 1)
    recall = tp / max(tp + fn, 1)
    print(f"\npushes: {len(events)} events, {tp + fn} expected pushes")
    print(f"precision {precision:.3f} ({tp}/{tp + fp})   recall {recall:.3f} ({tp}/{tp + fn})   "
          f"events exactly right {right_events}/{len(events)}")  # fmt: skip
    for miss in misses:
        print("  ", *miss)
    return {"precision": precision, "recall": recall, "tp": tp, "fp": fp, "fn": fn,
            "events": len(events), "events_right": right_events}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds over the contexts")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--dump", type=Path, help="write every point here, for judging")
    parser.add_argument("--bolt-port", type=int, default=7707)
    parser.add_argument("--http-port", type=int, default=7494)
    parser.add_argument("--keep", action="store_true", help="leave the Neo4j running")
    args = parser.parse_args()
    settings = bench_settings(args.bolt_port, args.http_port)
    server = assembly.local_server(settings)
    server.resolve()
    started = server.start(settings.password())
    store = assembly.open_store(settings)
    try:
        if not store.counts().get("atoms"):
            report = ingest_paths([ROOT / "data" / "samples"], store)
            print(f"loaded data/samples: {report.failures or 'no failures'}")
        embedder = assembly.load_embedder(settings)
        sync_index(store, embedder, settings.index_path)
        bundle = IndexBundle.load(settings.index_path)
        analyzer, retriever = served_retriever(bundle, embedder)
        composer = BriefComposer(analyzer, retriever, bundle.graph, store)
        contexts = read_jsonl(DATA / "contexts.jsonl")
        briefs, rows, timings = measure_briefs(composer, contexts, args.rounds, args.dump)
        print(f"{len(contexts)} contexts, {len(rows)} points, encoder {embedder.name}, "
              f"{len(bundle.versions)} atoms indexed")  # fmt: skip
        print(f"brief latency (warm, {len(timings)} briefs): p50 {percentile(timings, 50):.1f} ms"
              f"   p95 {percentile(timings, 95):.1f} ms   load average "
              f"{os.getloadavg()[0]:.2f}")  # fmt: skip
        judgments_file = DATA / "judgments.tsv"
        judgments = read_judgments(judgments_file) if judgments_file.exists() else {}
        splits = {c["id"]: c.get("split", "dev") for c in contexts}
        precision = report_precision(rows, judgments, briefs, splits)
        pushes = measure_pushes(store, composer, read_jsonl(DATA / "events.jsonl"))
    finally:
        store.close()
        if started and not args.keep:
            server.stop()
    if args.json:
        figures = {
            "latency_ms": {"p50": percentile(timings, 50), "p95": percentile(timings, 95)},
            "precision": precision,
            "pushes": pushes,
        }
        args.json.write_text(json.dumps(figures, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
