"""`skg eval`: retrieval quality on BEIR data or CMRC 2018."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from api import runtime
from api.cli.common import console, progress_bar
from api.cli.root import app
from api.settings import Settings


class CmrcLevel(StrEnum):
    paragraph = "paragraph"
    sentence = "sentence"


@app.command("eval")
def evaluate(
    data: Annotated[
        Path | None, typer.Argument(help="A BEIR folder (corpus.jsonl, queries.jsonl, qrels/).")
    ] = None,
    cmrc: Annotated[
        Path | None, typer.Option(help="A CMRC 2018 (SQuAD-format) file instead of DATA.")
    ] = None,
    level: Annotated[CmrcLevel, typer.Option(help="CMRC unit.")] = CmrcLevel.sentence,
    graph_from: Annotated[
        Path | None, typer.Option(help="Source folder whose entities form the graph.")
    ] = None,
    split: Annotated[str, typer.Option(help="qrels split (qrels/SPLIT.tsv).")] = "test",
    run: Annotated[
        Path | None, typer.Option(help="Write the fused ranking as a TREC run file.")
    ] = None,
) -> None:
    """nDCG@10, Recall@1/5/10 and MRR of each retriever and of the fusions.

    The corpus is indexed in isolation, in memory; nothing touches the sales graph.
    """
    from api.evaluate import graph_for_corpus
    from retrieval.beir import cmrc_to_beir, load_beir, write_trec_run
    from retrieval.evaluation import PRIMARY, run_evaluation

    if (data is None) == (cmrc is None):
        raise typer.BadParameter("give either DATA (a BEIR folder) or --cmrc FILE")
    settings = Settings()
    beir = load_beir(data, split) if data else cmrc_to_beir(cmrc, level.value)  # type: ignore[arg-type]
    dictionary, snapshot = graph_for_corpus(beir, graph_from) if graph_from else (None, None)
    embedder = runtime.load_embedder(settings)
    with progress_bar() as progress:
        task = progress.add_task("Queries", total=len(beir.qrels))
        result = run_evaluation(
            beir,
            embedder,
            dictionary=dictionary,
            snapshot=snapshot,
            cache_dir=settings.home / "cache" / "embeddings",
            on_query=lambda: progress.advance(task),
        )
    table = Table(
        "system",
        "nDCG@10",
        "R@1",
        "R@5",
        "R@10",
        "MRR",
        title=f"{len(beir.corpus)} documents, {len(beir.qrels)} judged queries",
    )
    for system, metrics in result.metrics.items():
        table.add_row(system, *(f"{v:.3f}" for v in metrics.values()))
    console.print(table)
    if run is not None:
        fused = PRIMARY if PRIMARY in result.runs else "hybrid(dense+lexical)"
        write_trec_run(run, result.runs[fused], tag=f"saleskg-{fused}")
        console.print(f"TREC run of {fused} written to {run}")
