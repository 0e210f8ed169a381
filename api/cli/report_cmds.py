"""`skg report contributions` (贡献度) and `skg report gaps` (知识缺口)."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from typing import Annotated

import typer
from rich import box
from rich.table import Table

from api import assembly
from api.cli.common import console, err
from api.cli.root import report_app
from api.settings import Settings
from kg.contributions import FORMULA, day_start

# Two-line headers keep the table within an 80-column terminal.
COLUMNS = (
    ("贡献人", "person"),
    ("知识\n条数", "atoms"),
    ("审核\n通过", "approved"),
    ("被引\n次数", "citations"),
    ("引用\n回答", "answers"),
    ("有用", "helpful"),
    ("没用", "not_helpful"),
    ("用于\n商机", "used_in_deal"),
    ("赢单", "deal_won"),
    ("丢单", "deal_lost"),
    ("贡献度", "score"),
)


@report_app.command("contributions")
def contributions(
    since: Annotated[
        datetime | None,
        typer.Option(formats=["%Y-%m-%d"], help="Count answers and feedback from this day on."),
    ] = None,
    team: Annotated[str | None, typer.Option(help="Only the atoms of this team.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="How many people to show.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Whose knowledge is used most (贡献度): atoms, citations, feedback and score per person.

    Atoms with no owner or contributor count under （未署名）; the formula is under the table.
    """
    store = assembly.open_store(Settings())
    try:
        report = store.contributions(since=day_start(since.date()) if since else None, team=team)
    finally:
        store.close()
    rows = [{**asdict(c), "score": c.score} for c in report[:limit]]
    if as_json:
        print(json.dumps({"items": rows, "total": len(report)}, ensure_ascii=False, indent=2))
        return
    if not report:
        err.print(f"no atoms{f' of team {team}' if team else ''}: nothing to report")
        return
    scope = "，".join(
        part
        for part in (f"{since:%Y-%m-%d} 起" if since else "", f"团队 {team}" if team else "")
        if part
    )
    table = Table(
        *(header for header, _ in COLUMNS),
        title=f"贡献度报告{f'（{scope}）' if scope else ''}",
        caption=FORMULA,
        box=box.SIMPLE_HEAD,
        collapse_padding=True,
        pad_edge=False,
    )
    table.columns[0].no_wrap = True
    for column in table.columns[1:]:
        column.justify = "right"
    for row in rows:
        table.add_row(*(str(row[field]) for _, field in COLUMNS))
    console.print(table)
    if len(report) > limit:
        console.print(f"showing {limit} of {len(report)} (--limit)", highlight=False)


@report_app.command("gaps")
def gaps(
    days: Annotated[int, typer.Option(min=1, help="The last N days.")] = 30,
    limit: Annotated[int, typer.Option(min=1, help="How many questions to show.")] = 30,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Knowledge gaps (知识缺口): questions reps asked that found no reliable answer, most
    asked first. Ask the experts for the missing material, or add an alias (curation/15)."""
    from datetime import UTC, timedelta

    store = assembly.open_store(Settings())
    try:
        rows, total = store.gaps(datetime.now(UTC) - timedelta(days=days), 0, limit)
    finally:
        store.close()
    if as_json:
        print(json.dumps({"items": rows, "total": total}, ensure_ascii=False, indent=2))
        return
    if not rows:
        console.print(f"最近 {days} 天没有找不到答案的问题 (no knowledge gaps in {days} days)")
        return
    table = Table("问题", "次数", "最近一次", "置信度", "团队", title=f"知识缺口（最近 {days} 天）")
    for row in rows:
        table.add_row(
            row["question"],
            str(row["times"]),
            row["last_asked"][:10],
            f"{row['confidence']:.2f}" if row["confidence"] is not None else "",
            "、".join(row["teams"]),
        )
    console.print(table)
    if total > limit:
        console.print(f"showing {limit} of {total} (--limit)", highlight=False)
