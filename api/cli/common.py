"""Shared pieces of the CLI: consoles, progress bars, transcript printing."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from speech.recognizer import Recognition

console = Console()
err = Console(stderr=True)


def progress_bar() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


def recognition_json(recognition: Recognition) -> dict[str, object]:
    return {
        "text": recognition.text,
        "raw_text": recognition.raw.text,
        "changes": [{"heard": c.heard, "term": c.term, "at": c.start} for c in recognition.changes],
        "audio_seconds": round(recognition.raw.audio_seconds, 2),
        "compute_seconds": round(recognition.raw.compute_seconds, 3),
    }


def print_recognition(name: str, recognition: Recognition) -> None:
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
