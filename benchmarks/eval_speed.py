"""`skg eval` at scale: wall time and peak memory on a synthetic CMRC set, without and with the
cache of corpus vectors.

The set is CMRC 2018 trial at sentence level, repeated until it has ``--sentences`` sentences
and ``--questions`` questions: copy ``c`` of each sentence and question starts with ``第c版：``,
so every text is embedded for real, and each question judges its copy's answer sentence. Runs
`skg eval` twice in a fresh home (so the first finds no cache and the second finds it), as
separate processes, and prints wall time and peak RSS of each.

    .venv/bin/python benchmarks/eval_speed.py --sentences 10000 --questions 3000 [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

from retrieval.evaluation.beir import cmrc_to_beir, write_qrels

ROOT = Path(__file__).resolve().parents[1]
CMRC = ROOT / "data" / "eval" / "cmrc2018" / "cmrc2018_trial.json"


def synthetic_set(folder: Path, sentences: int, questions: int) -> tuple[int, int]:
    """Write the scaled BEIR folder; returns (sentences, questions) written."""
    base = cmrc_to_beir(CMRC, "sentence")
    corpus: list[dict[str, str]] = []
    copy = 0
    while len(corpus) < sentences:
        tag = f"第{copy}版：" if copy else ""
        corpus += [
            {"_id": f"{i}#{copy}", "title": "", "text": tag + d["text"]}
            for i, d in base.corpus.items()
        ]
        copy += 1
    corpus = corpus[:sentences]
    kept = {d["_id"] for d in corpus}
    queries, qrels = [], {}
    for c in range(copy):
        tag = f"第{c}版：" if c else ""
        for qid, judged in base.qrels.items():
            docs = {f"{d}#{c}": g for d, g in judged.items() if f"{d}#{c}" in kept}
            if docs and len(queries) < questions:
                queries.append({"_id": f"{qid}#{c}", "text": tag + base.queries[qid]})
                qrels[f"{qid}#{c}"] = docs
    (folder / "qrels").mkdir(parents=True, exist_ok=True)
    for name, rows in (("corpus.jsonl", corpus), ("queries.jsonl", queries)):
        with (folder / name).open("w", encoding="utf-8") as f:
            f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    write_qrels(folder / "qrels" / "test.tsv", qrels)
    return len(corpus), len(queries)


def timed(command: list[str], env: dict[str, str], log: Path) -> tuple[float, float, float]:
    """Wall and CPU (user + system) seconds and peak RSS in MiB of the command. CPU time says
    how much a loaded machine inflated the wall time."""
    started = time.perf_counter()
    with log.open("w") as out:
        child = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"{' '.join(command)} failed:\n{log.read_text()[-2000:]}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=10_000)
    parser.add_argument("--questions", type=int, default=3_000)
    parser.add_argument("--threads", type=int, help="passed on to `skg eval --threads`")
    args = parser.parse_args()
    model = Path(os.environ.get("SKG_EMBEDDING_MODEL", ROOT / ".skg/models/multilingual-e5-small"))
    with tempfile.TemporaryDirectory(prefix="skg-eval-speed-") as tmp:
        folder, home = Path(tmp) / "set", Path(tmp) / "home"
        n_sentences, n_questions = synthetic_set(folder, args.sentences, args.questions)
        env = {**os.environ, "SKG_HOME": str(home), "SKG_EMBEDDING_MODEL": str(model.resolve())}
        command = [str(ROOT / ".venv" / "bin" / "skg"), "eval", str(folder), "--split", "test"]
        command += ["--threads", str(args.threads)] if args.threads else []
        figures = Path(tmp) / "eval.json"
        command += ["--json", str(figures)]
        print(f"{n_sentences:,} sentences, {n_questions:,} questions, {os.cpu_count()} CPUs")
        for label in ("without cache", "with cache"):
            wall, cpu, rss = timed(command, env, Path(tmp) / "eval.log")
            load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
            (stages,) = [c["seconds"] for c in json.loads(figures.read_text())["corpora"]]
            print(
                f"{label}: {wall:.1f} s wall, {cpu:.1f} s CPU, peak RSS {rss:,.0f} MiB, "
                f"load average after {load}\n  "
                + ", ".join(f"{k.replace('_', ' ')} {v:.1f} s" for k, v in stages.items())
            )


if __name__ == "__main__":
    main()
