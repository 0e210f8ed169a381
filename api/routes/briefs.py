"""Briefs: one composed brief for an opportunity from its CRM context, without a question."""

from __future__ import annotations

import threading
from typing import Annotated

from fastapi import APIRouter, Depends, Request

from api.deps import AskViewer
from api.errors import responses
from api.schemas import BriefRequest, BriefResponse
from api.state import Searchable, Services
from retrieval.answers.brief import BriefComposer
from retrieval.served import served_retriever

router = APIRouter(prefix="/v1", tags=["briefs"])


class Briefer:
    """The brief composer over the index generation search serves, rebuilt when a reload
    swaps in another (it ranks with the same served retriever, over the same bundle)."""

    def __init__(self, services: Services) -> None:
        self._services = services
        self._lock = threading.Lock()
        self._built: tuple[Searchable, BriefComposer] | None = None

    def composer(self) -> BriefComposer:
        current = self._services.current  # IndexNotReadyError (503) before the first index
        built = self._built
        if built is None or built[0] is not current:
            with self._lock:
                built = self._built
                if built is None or built[0] is not current:
                    analyzer, retriever = served_retriever(current.bundle, self._services.embedder)
                    composer = BriefComposer(
                        analyzer, retriever, current.bundle.graph, self._services.store
                    )
                    built = self._built = (current, composer)
        return built[1]


async def _briefer(request: Request) -> Briefer:
    return request.app.state.briefer


BrieferDep = Annotated[Briefer, Depends(_briefer)]


@router.post("/briefs", response_model=BriefResponse, responses=responses(401, 403, 422, 503))
def brief(request: BriefRequest, viewer: AskViewer, briefer: BrieferDep) -> BriefResponse:
    """A brief for an opportunity: the sections its stage calls for (开场与破冰话术,
    客户关注点与痛点, 方案要点, 常见异议与应对, 相似成功案例, 失败复盘教训, 竞品对比,
    术语速查), every point cited; empty sections say so. A customer the knowledge does not
    hold (or the key may not see) falls back to its industry's knowledge, and `note` says so.
    Only atoms and names the key may see."""
    composed = briefer.composer().compose(request.context(), viewer.can_see)
    return BriefResponse(brief=composed, text=composed.to_text())
