"""Feedback from reps and CRM plugins: on an answer or an atom, and deal outcomes."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, status

from api import metrics
from api.deps import ReaderViewer, ServicesDep
from api.errors import responses
from api.schemas import FeedbackCreate, FeedbackPublic
from kg.errors import NotFoundError

router = APIRouter(prefix="/v1", tags=["feedback"])


@router.post(
    "/feedback",
    response_model=FeedbackPublic,
    status_code=status.HTTP_201_CREATED,
    responses=responses(401, 403, 404, 422, 503),
)
def give_feedback(
    feedback: FeedbackCreate, viewer: ReaderViewer, services: ServicesDep
) -> FeedbackPublic:
    """Record that an answer or an atom helped or not, was used in a deal, or that the deal
    was won or lost. Feedback on an answer counts for each atom it cited that the key may
    see."""
    store = services.store
    if feedback.answer_id is not None:
        cited = store.answer_atoms(feedback.answer_id)
        if cited is None:
            raise NotFoundError(f"没有这个回答：{feedback.answer_id} (no such answer)")
        if feedback.atom_id is not None:
            if feedback.atom_id not in cited:
                raise NotFoundError(
                    f"该回答没有引用 {feedback.atom_id} (the answer did not cite it)"
                )
            cited = [feedback.atom_id]
        atom_ids = [a.atom.id for a in store.atoms(cited) if viewer.can_see(a.live_meta())]
        if not atom_ids and feedback.atom_id is not None:
            raise NotFoundError(f"没有这条知识：{feedback.atom_id} (no such atom)")
    else:
        found = store.atoms([feedback.atom_id or ""])
        if not found or not viewer.can_see(found[0].live_meta()):
            raise NotFoundError(f"没有这条知识：{feedback.atom_id} (no such atom)")
        atom_ids = [found[0].atom.id]
    feedback_id = "fb-" + uuid.uuid4().hex[:16]
    created = store.record_feedback(
        feedback_id,
        feedback.kind.value,
        atom_ids,
        feedback.answer_id,
        comment=feedback.comment,
        deal=feedback.deal,
        key_id=viewer.key_id,
        team=viewer.team,
        user=viewer.user,
    )
    metrics.FEEDBACK.labels(feedback.kind.value).inc()
    return FeedbackPublic(
        id=feedback_id, kind=feedback.kind, atoms=len(atom_ids), created_at=created
    )
