"""`skg ingest`, `skg export-corpus`, `skg index sync|check`."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from api import assembly
from api.cli.common import console, err, print_recognition, progress_bar
from api.cli.root import app, index_app
from api.settings import Settings
from ingest.pipeline import IngestOptions, IngestReport
from kg.errors import AudioError, IngestError
from kg.models import CurationStatus
from kg.service_store import AppStore
from retrieval.embedding.base import Embedder
from retrieval.embedding.prefetch import PrefetchingEmbedder


class RemovedMode(StrEnum):
    delete = "delete"
    deprecate = "deprecate"


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

    if not paths and not audio:
        raise typer.BadParameter("give files or folders to ingest, or --audio FILE")
    settings = Settings()
    options = IngestOptions(
        collection=collection,
        on_removed=on_removed.value,
        sync_removed=sync_removed,
        default_status=status,
        limits=assembly.parse_limits(settings),
    )
    store = assembly.open_store(settings)
    # Atoms are embedded while ingest still parses and writes; the sync takes their vectors.
    embedder = PrefetchingEmbedder(assembly.load_embedder(settings, lazy=True))
    try:
        if paths:
            with progress_bar() as progress:
                task = progress.add_task("Ingesting", total=None)
                report = ingest_paths(
                    paths,
                    store,
                    options,
                    on_file=lambda _: progress.advance(task),
                    on_total=lambda n: progress.update(task, total=n),
                    on_atoms=embedder.prefetch,
                )
            _print_report(report)
        if audio:
            _print_report(_ingest_debriefs(settings, store, audio, options))
        _sync(settings, store, embedder=embedder)
    finally:
        embedder.close()
        store.close()


def _ingest_debriefs(
    settings: Settings, store: AppStore, files: list[Path], options: IngestOptions
) -> IngestReport:
    """Transcribe each recording (graph-aware), then ingest it as field-note atoms."""
    from ingest.pipeline import ingest_sources
    from ingest.sources.debrief import debrief_source
    from speech.audio import decode

    recognizer = assembly.load_recognizer(settings)
    sources, failures = {}, []
    for path in files:
        try:
            recognition = recognizer.recognize(decode(path, assembly.audio_limits(settings)))
            print_recognition(str(path), recognition)
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
    if report.atoms_held:
        console.print(
            f"[yellow]{report.atoms_held} curated atoms[/yellow] kept their curator's text; the "
            "changed source waits for review (review = 'source_changed', docs/curation.md)",
            soft_wrap=True,
        )
    if report.candidates:
        words = "、".join(f"{w}({c})" for w, c, _ in report.candidates[:15])
        console.print(f"unknown entity candidates for curators: {words}", soft_wrap=True)
    for path, reason in report.failures:
        err.print(f"[yellow]skipped[/yellow] {path}: {reason}", highlight=False)


def _sync(
    settings: Settings,
    store: AppStore,
    *,
    rebuild: bool = False,
    embedder: Embedder | None = None,
) -> None:
    from retrieval.index.sync import sync_index

    # Loaded only if atoms need it.
    embedder = embedder or assembly.load_embedder(settings, lazy=True)
    with progress_bar() as progress:
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
    if report.edited_outside:
        console.print(
            f"{report.edited_outside} atoms were edited in Neo4j without the curation queries: "
            "their earlier text is kept as an AtomVersion (docs/curation.md)",
            soft_wrap=True,
        )
    if report.relinked:
        console.print(
            f"{report.relinked} edited atoms relinked to the entities their text now names",
            soft_wrap=True,
        )
    flagged = store.flag_stale(settings.stale_after_days)
    if flagged:
        console.print(
            f"{flagged} atoms unverified for {settings.stale_after_days} days flagged for review "
            "(review = 'stale')",
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
    store = assembly.open_store(settings)
    try:
        _sync(settings, store, rebuild=rebuild)
    finally:
        store.close()


@index_app.command("check")
def index_check() -> None:
    """Report drift between the search index and the graph, atoms with invalid fields, and
    documents an interrupted ingest left incomplete; exit 1 when any is found."""
    from retrieval.index.sync import check_drift

    settings = Settings()
    store = assembly.open_store(settings)
    try:
        drift = check_drift(store, settings.index_path)
    finally:
        store.close()
    for label, ids in (("missing", drift.missing), ("stale", drift.stale), ("extra", drift.extra)):
        console.print(f"{label}: {len(ids)}" + (f"  e.g. {', '.join(ids[:3])}" if ids else ""))
    console.print(f"atoms with invalid fields: {len(drift.invalid)}")
    for atom_id, problems in drift.invalid[:20]:
        console.print(f"  {atom_id}: {'; '.join(problems)}", highlight=False)
    console.print(f"documents with incomplete derived data: {len(drift.underived)}")
    for path in drift.underived[:20]:
        console.print(f"  {path}", highlight=False)
    if not drift.in_sync:
        err.print("The index is out of step with the graph: run `skg index sync`.")
    if drift.invalid:
        err.print(
            "Some atoms have missing or invalid fields; search treats them as private to their "
            "owner or leaves them out. Fix them in Neo4j Browser (curation/02-needs-review)."
        )
    if drift.underived:
        err.print(
            "An interrupted ingest left near-duplicate links and entity candidates incomplete: "
            "run `skg ingest` again on the same files."
        )
    if not drift.sound:
        raise typer.Exit(1)
    console.print("The index is in step with the graph, and the graph is sound.")
