"""`skg eval`: retrieval quality of the served ranking on BEIR data, CMRC 2018, or every set."""

from __future__ import annotations

import functools
import json
import os
import platform
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import TaskID
from rich.table import Table

from api import assembly
from api.cli.common import console, progress_bar
from api.cli.root import app
from api.settings import Settings

if TYPE_CHECKING:
    from api.evaluate import EvalCorpus
    from retrieval.embedding.base import Embedder
    from retrieval.evaluation.benchmark import EvalResult

METRICS = ("nDCG@10", "R@1", "R@10", "MRR")


class CmrcLevel(StrEnum):
    paragraph = "paragraph"
    sentence = "sentence"


@app.command("eval")
def evaluate(
    data: Annotated[
        Path | None, typer.Argument(help="A BEIR folder (queries.jsonl, qrels/, corpus.jsonl).")
    ] = None,
    corpus: Annotated[
        Path | None, typer.Option(help="The corpus file, when DATA has no corpus.jsonl.")
    ] = None,
    cmrc: Annotated[
        Path | None, typer.Option(help="A CMRC 2018 (SQuAD-format) file instead of DATA.")
    ] = None,
    level: Annotated[CmrcLevel, typer.Option(help="CMRC unit.")] = CmrcLevel.sentence,
    titled: Annotated[
        bool, typer.Option(help="CMRC units carry their article's title, as atoms do.")
    ] = False,
    graph_from: Annotated[
        Path | None, typer.Option(help="Source folder whose entities form the graph.")
    ] = None,
    split: Annotated[
        str, typer.Option(help="qrels/SPLIT.tsv; for CMRC: dev, test or all (by article).")
    ] = "test",
    suite: Annotated[
        bool, typer.Option("--suite", help="Every set and split of this repository's data/.")
    ] = False,
    run: Annotated[
        Path | None, typer.Option(help="Write the served ranking as a TREC run file.")
    ] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write every figure.")] = None,
    runs_dir: Annotated[
        Path | None, typer.Option(help="Write each system's top 100 per question (TREC runs).")
    ] = None,
    cache: Annotated[bool, typer.Option(help="Read and write the cache of corpus vectors.")] = True,
    threads: Annotated[
        int | None,
        typer.Option(min=1, help="CPU threads of the model and FAISS (default: one per core)."),
    ] = None,
) -> None:
    """nDCG@10, R@1, R@10 and MRR of the served ranking, of each retriever alone and of
    rrf(dense,lexical); by split, and by style where questions have styles.

    Each corpus is indexed in memory; nothing touches the sales graph.
    """
    from api.evaluate import cmrc_corpus, folder_corpus
    from api.evaluate import suite as all_sets

    if sum((data is not None, cmrc is not None, suite)) != 1:
        raise typer.BadParameter("give one of DATA (a BEIR folder), --cmrc FILE or --suite")
    if suite and run:
        raise typer.BadParameter("--run writes one set's ranking; with --suite use --runs-dir")
    started = time.perf_counter()
    if threads is not None:
        # Where other work shares the cores, threads that wait on each other cost more than
        # they bring: FAISS took 8 ms a question at 10k documents with 2 threads, 0.6 with 1.
        import faiss
        import torch

        torch.set_num_threads(threads)
        faiss.omp_set_num_threads(threads)
    if suite:
        corpora = all_sets(Path.cwd())
    elif cmrc is not None:
        corpora = iter([cmrc_corpus(cmrc, level.value, titled=titled, split=split)])
    else:
        corpora = iter([folder_corpus(data, split, corpus, graph_from)])  # type: ignore[arg-type]
    settings = Settings()
    embedder = assembly.load_embedder(settings)
    cache_dir = settings.home / "cache" / "embeddings" if cache else None
    results = _rank_all(corpora, embedder, cache_dir)
    _print_table(results)
    for one, result in results:
        stages = ", ".join(f"{k.replace('_', ' ')} {v:.1f} s" for k, v in result.seconds.items())
        cached = " (cached)" if result.cached else ""
        console.print(
            f"{one.name}: {len(one.data.corpus):,} documents, {len(one.data.qrels):,} questions; "
            f"{stages}{cached}",
            highlight=False,
            soft_wrap=True,
        )
    total = time.perf_counter() - started
    console.print(f"total {total:.1f} s", highlight=False)
    if run is not None:
        from retrieval.evaluation.beir import write_trec_run

        write_trec_run(run, results[0][1].runs["served"], tag="saleskg-served")
        console.print(f"TREC run of the served ranking written to {run}")
    if runs_dir is not None:
        from api.evaluate import write_runs

        for one, result in results:
            write_runs(runs_dir, one, result)
        console.print(f"runs of every system written under {runs_dir}")
    if json_out is not None:
        _write_json(json_out, results, embedder.name, total)
        console.print(f"figures written to {json_out}")


def _rank_all(
    corpora: Iterable[EvalCorpus], embedder: Embedder, cache_dir: Path | None
) -> list[tuple[EvalCorpus, EvalResult]]:
    from retrieval.embedding.cached import CachedQueryEmbedder
    from retrieval.evaluation.benchmark import evaluate_served

    # One question cache for all corpora: CMRC's questions are asked of two of them.
    questions = CachedQueryEmbedder(embedder)
    results = []
    with progress_bar() as bar:
        tasks: dict[tuple[str, str], TaskID] = {}

        def advance(corpus: str, stage: str, done: int, total: int) -> None:
            if (corpus, stage) not in tasks:
                tasks[corpus, stage] = bar.add_task(f"{corpus}: {stage.lower()}", total=total)
            bar.update(tasks[corpus, stage], completed=done)

        for one in corpora:
            result = evaluate_served(
                one.data,
                questions,
                snapshot=one.snapshot,
                cache_dir=cache_dir,
                progress=functools.partial(advance, one.name),
            )
            results.append((one, result))
    return results


def _print_table(results: list[tuple[EvalCorpus, EvalResult]]) -> None:
    from api.evaluate import report

    table = Table("set", "split", "style", "n", "system", *METRICS, title="Retrieval quality")
    for one, result in results:
        records = report(one, result)
        for i, record in enumerate(records):
            last = i + 1 == len(records) or records[i + 1]["style"] != record["style"]
            last = last or records[i + 1]["split"] != record["split"]
            table.add_row(
                str(record["set"]),
                str(record["split"]),
                str(record["style"]),
                str(record["queries"]),
                str(record["system"]),
                *(f"{record[m]:.3f}" for m in METRICS),
                style="bold" if record["system"] == "served" else None,
                end_section=last,
            )
    # Every column whole when the output is a pipe or a log (rich would assume 80 columns).
    (console if console.is_terminal else Console(width=120)).print(table)


def _write_json(
    path: Path, results: list[tuple[EvalCorpus, EvalResult]], model: str, total: float
) -> None:
    from api.evaluate import report

    payload = {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "model": model,
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "seconds": round(total, 1),
        "corpora": [
            {
                "name": one.name,
                "documents": len(one.data.corpus),
                "questions": len(one.data.qrels),
                "graph": one.snapshot is not None,
                "corpus_vectors_cached": result.cached,
                "seconds": {k: round(v, 2) for k, v in result.seconds.items()},
            }
            for one, result in results
        ],
        "rows": [record for one, result in results for record in report(one, result)],
    }
    path.write_text(json.dumps(payload, ensure_ascii=False, indent=1), encoding="utf-8")
