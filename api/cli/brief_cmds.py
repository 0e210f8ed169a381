"""`skg brief`: the brief for an opportunity, as the API composes it (docs/retrieval.md)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from api import assembly
from api.cli.common import console
from api.cli.root import app
from api.settings import Settings
from retrieval.answers.brief import BriefComposer
from retrieval.answers.brief_sections import BriefContext, Stage, parse_stage
from retrieval.index.bundle import IndexBundle
from retrieval.served import served_retriever

STAGES = "、".join(s.value for s in Stage)


def _stage(value: str) -> Stage:
    try:
        return parse_stage(value)
    except ValueError as exc:
        raise typer.BadParameter(f"未知阶段 {value!r}，可选：{STAGES}") from exc


@app.command()
def brief(
    customer: Annotated[str, typer.Option(help="The customer: name, alias or id.")],
    stage: Annotated[str, typer.Option(help=f"The deal's stage: {STAGES}.")],
    industry: Annotated[str | None, typer.Option(help="The customer's industry.")] = None,
    product: Annotated[list[str] | None, typer.Option(help="A product (repeatable).")] = None,
    competitor: Annotated[
        list[str] | None, typer.Option(help="A competitor named (repeatable).")
    ] = None,
    role: Annotated[list[str] | None, typer.Option(help="A contact's role (repeatable).")] = None,
    notes: Annotated[str, typer.Option(help="Recent notes or email summaries.")] = "",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """A brief for an opportunity without a question: the sections its stage calls for,
    every point cited. The operator's CLI sees all knowledge (the API applies each key's)."""
    context = BriefContext(
        customer=customer.strip(),
        stage=_stage(stage),
        industry=industry,
        products=tuple(product or ()),
        competitors=tuple(competitor or ()),
        roles=tuple(role or ()),
        notes=notes,
    )
    if not context.customer:
        raise typer.BadParameter("客户不能为空 (--customer is empty)")
    settings = Settings()
    store = assembly.open_store(settings)
    try:
        bundle = IndexBundle.load(settings.index_path)
        analyzer, retriever = served_retriever(bundle, assembly.load_embedder(settings))
        composed = BriefComposer(analyzer, retriever, bundle.graph, store).compose(context)
    finally:
        store.close()
    if as_json:
        console.print_json(json.dumps(composed.model_dump(mode="json"), ensure_ascii=False))
    else:
        console.print(composed.to_text(), markup=False, highlight=False, soft_wrap=True)
