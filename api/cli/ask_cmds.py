"""`skg demo`, `skg ask`, `skg transcribe`, `skg eval-speech`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from api import assembly
from api.cli.common import console, print_recognition, progress_bar, recognition_json
from api.cli.ingest_cmds import ingest
from api.cli.root import app
from api.cli.setup_cmds import setup
from api.settings import Settings
from speech.evaluation import SpeechReport

EXAMPLE_QUESTION = "如何向宁德时代解释热失控防护方案？"
SAMPLES = Path("data/samples")


@app.command()
def demo(
    question: Annotated[str, typer.Argument(help="The question to answer.")] = EXAMPLE_QUESTION,
) -> None:
    """Set up, ingest data/samples, and answer the example question."""
    setup()
    ingest([SAMPLES])
    ask(question)
    console.print(
        "\nNext: the HTTP API and the reps' page: `skg keys create 我的钥匙`, then `skg serve` "
        "and open http://127.0.0.1:8000/app/#key=<the key> (docs/api.md). Curators: "
        "docs/curation.md.",
        soft_wrap=True,
        highlight=False,
    )


# -- questions -------------------------------------------------------------------------------
@app.command()
def ask(
    question: Annotated[str | None, typer.Argument(help="A typed question.")] = None,
    audio: Annotated[
        Path | None, typer.Option(help="A spoken question (wav, mp3, m4a...).")
    ] = None,
    top_k: Annotated[int, typer.Option(min=1, max=50)] = 8,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    from_file: Annotated[
        Path | None,
        typer.Option(
            "--from",
            help='Answer every line of a JSONL file ({"_id" or "id", "text"}), one JSON object '
            "per line (with --json).",
        ),
    ] = None,
) -> None:
    """Answer a typed or spoken question with cited atoms; say so when the knowledge holds
    no reliable answer (`answered` false in --json, with the nearest atoms as `leads`)."""
    settings = Settings()
    if sum(x is not None for x in (question, audio, from_file)) != 1:
        raise typer.BadParameter("give one of: a QUESTION, --audio FILE, --from FILE.jsonl")
    if from_file is not None:
        if not as_json:
            raise typer.BadParameter("--from prints JSON lines: add --json")
        _ask_many(settings, from_file, top_k)
        return
    recognition = None
    if audio is not None:
        from speech.audio import decode

        limits = assembly.audio_limits(settings)
        recognition = assembly.load_recognizer(settings).recognize(decode(audio, limits))
        question = recognition.text
        if not as_json:
            print_recognition(str(audio), recognition)
    assert question is not None
    store = assembly.open_store(settings)
    try:
        service = assembly.search_service(settings, store, assembly.load_embedder(settings))
        answer = service.ask(question, top_k)
    finally:
        store.close()
    if as_json:
        payload = answer.model_dump(mode="json")
        if recognition is not None:
            payload["transcript"] = recognition_json(recognition)
        console.print_json(json.dumps(payload, ensure_ascii=False))
    else:
        if answer.polished:
            console.print(answer.polished + "\n", markup=False, highlight=False, soft_wrap=True)
        console.print(answer.to_text(), markup=False, highlight=False, soft_wrap=True)


def _ask_many(settings: Settings, path: Path, top_k: int) -> None:
    """One JSON object per question of a JSONL file; models and indexes loaded once. A line
    that is not a question object is answered with an error object and the rest go on."""
    from kg.errors import BadQueryError

    lines = path.read_text(encoding="utf-8").splitlines()
    store = assembly.open_store(settings)
    try:
        service = assembly.search_service(settings, store, assembly.load_embedder(settings))
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                if not isinstance(row, dict) or not isinstance(row.get("text"), str):
                    raise ValueError('expected {"_id" or "id": ..., "text": "..."}')
                qid = row.get("_id", row.get("id", str(number)))
                answer = service.ask(row["text"], top_k)
                out = {"id": qid, **answer.model_dump(mode="json")}
            except (ValueError, BadQueryError) as exc:
                out = {"id": f"line {number}", "error": str(exc)}
            print(json.dumps(out, ensure_ascii=False), flush=True)
    finally:
        store.close()


@app.command()
def transcribe(
    files: Annotated[list[Path], typer.Argument(help="Audio files (wav, mp3, m4a, webm, ogg).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines.")] = False,
    correct: Annotated[bool, typer.Option(help="Correct against the graph's vocabulary.")] = True,
) -> None:
    """Transcribe spoken questions: the raw and the corrected transcript of each file."""
    from speech.audio import decode

    settings = Settings()
    recognizer = assembly.load_recognizer(settings, correct=correct)
    for path in files:
        recognition = recognizer.recognize(decode(path, assembly.audio_limits(settings)))
        if as_json:
            row = {"file": str(path), **recognition_json(recognition)}
            print(json.dumps(row, ensure_ascii=False))
        else:
            print_recognition(str(path), recognition)


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

    recognizer = assembly.load_recognizer(Settings(), correct=correct)
    with progress_bar() as progress:
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
    from retrieval.index.bundle import IndexBundle
    from retrieval.served import served_retriever

    settings = Settings()
    analyzer, retriever = served_retriever(
        IndexBundle.load(settings.index_path), assembly.load_embedder(settings)
    )

    def top5(text: str) -> set[str]:
        return {h.atom_id for h in retriever.search(analyzer.analyze(text), 5)}

    for label, pick in (("raw", lambda c: c.raw), ("corrected", lambda c: c.corrected)):
        overlaps = [len(top5(pick(c)) & top5(c.reference)) / 5 for c in report.clips]
        console.print(f"top-5 agreement with typed, {label}: {sum(overlaps) / len(overlaps):.3f}")
