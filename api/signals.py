"""CRM events become pushes: an event is read with its opportunity's history (competitors
seen, the stage before, a metric's last value), the rules (``api/push_rules.py``) decide, and
each fired rule's brief section, composed as the posting key may see it, is queued for the
webhook (``api/pushes.py``), once per (opportunity, rule, content) and within the rep's
hourly limit. Listing pushes shows each caller only the points and names it may see."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from api.push_rules import Match, PushRule, Signal, dedup_key, evaluate
from api.schemas import EventCreate, PushOutcome, PushPublic
from kg.access import Viewer
from kg.service_store import PushStore
from kg.store import StoredAtom
from retrieval.answers.brief import BriefComposer
from retrieval.answers.brief_sections import SECTIONS, Brief, BriefContext, BriefSection, Stage
from retrieval.retrievers.graph import GraphSnapshot
from retrieval.retrievers.hybrid import Filters
from retrieval.visibility import EntityScope

HIDDEN_NAME = "（无权查看）"  # a name the caller may not see, where one was


def namespace_of(viewer: Viewer) -> str:
    """Whose opportunities and pushes a key's events are: its team's, else its user's, else
    its own."""
    if viewer.team:
        return f"team:{viewer.team}"
    if viewer.user:
        return f"user:{viewer.user}"
    return f"key:{viewer.key_id}"


class PushPlanner:
    """One event in, the pushes it warrants queued."""

    def __init__(
        self,
        store: PushStore,
        composer: BriefComposer,
        rules: Sequence[PushRule],
        per_hour: int,
    ) -> None:
        self._store = store
        self._composer = composer
        self._rules = rules
        self._per_hour = per_hour

    def handle(self, event: EventCreate, viewer: Viewer) -> list[PushOutcome]:
        namespace = namespace_of(viewer)
        competitors = self._competitors(event, viewer)
        before = self._store.record_opportunity(
            f"{namespace}\x1f{event.opportunity_id}",
            id=event.opportunity_id,
            namespace=namespace,
            customer=event.customer,
            stage=event.stage.value if event.stage else None,
            competitors=[name for name, _ in competitors],
            metric=event.metric,
            value=event.value,
        )
        seen = set(before["competitors"] or [])
        stored_stage = _stage(before["stage"])
        signal = Signal(
            kind=event.kind,
            text=event.text,
            stage=event.stage,
            previous_stage=event.previous_stage or stored_stage,
            new_competitors=tuple(name for name, _ in competitors if name not in seen),
            metric=event.metric,
            value=event.value,
            previous_value=before["previous"],
        )
        context = BriefContext(
            customer=event.customer,
            stage=event.stage or stored_stage or Stage.LEAD,
            industry=event.industry,
            products=tuple(event.products),
            competitors=tuple(dict.fromkeys([*event.competitors, *signal.new_competitors])),
            roles=tuple(event.roles),
            notes=event.text,
        )
        ids = dict(competitors)
        return [
            self._push(event, viewer, namespace, context, match, ids)
            for match in evaluate(self._rules, signal)
        ]

    def _competitors(self, event: EventCreate, viewer: Viewer) -> list[tuple[str, str | None]]:
        """Competitors the event names, as (name, entity id or None): those the CRM lists and
        those the knowledge recognises in its text, by their names in the knowledge."""
        found: dict[str, str | None] = {}
        for given in event.competitors:
            ids = self._composer.recognise(given, viewer.can_see, "Competitor")
            name = self._composer.name(ids[0]) if ids else given.strip()
            found.setdefault(name, ids[0] if ids else None)
        for entity_id in self._composer.recognise(event.text, viewer.can_see, "Competitor"):
            found.setdefault(self._composer.name(entity_id), entity_id)
        return list(found.items())

    def _push(
        self,
        event: EventCreate,
        viewer: Viewer,
        namespace: str,
        context: BriefContext,
        match: Match,
        competitor_ids: dict[str, str | None],
    ) -> PushOutcome:
        brief = self._composer.section(context, match.section, viewer.can_see, match.lead)
        atom_ids = [c.atom_id for c in brief.citations]
        rule = match.rule
        if not atom_ids:
            return PushOutcome(
                rule_id=rule.id, rule_name=rule.name, reason=match.reason, state="empty",
                push_id=None,
            )  # fmt: skip
        push_id = "push-" + uuid.uuid4().hex[:16]
        rep = event.rep or viewer.user or viewer.key_id
        payload = {
            "push_id": push_id,
            "opportunity_id": event.opportunity_id,
            "customer": event.customer,
            "rep": rep,
            "rule": {"id": rule.id, "name": rule.name},
            "reason": match.reason,
            "created_at": datetime.now(UTC).isoformat(),
            "brief": brief.model_dump(mode="json"),
            "text": f"{match.reason}\n\n{brief.to_text()}",
        }
        row = {
            "id": push_id,
            "dedup_key": dedup_key(namespace, event.opportunity_id, rule.id, atom_ids),
            "namespace": namespace,
            "key_id": viewer.key_id,
            "opportunity_id": event.opportunity_id,
            "customer": event.customer,
            "rep": rep,
            "rule_id": rule.id,
            "rule_name": rule.name,
            "reason": match.reason,
            "reason_generic": rule.name,
            # Names the reason and the customer show, for listing them only to those who
            # may see them (``visible_pushes``).
            "reason_entities": sorted(
                {i for n in match.names if (i := competitor_ids.get(n))}
                | set(self._composer.recognise(match.reason, viewer.can_see))
            ),
            "customer_entities": self._composer.recognise(event.customer, viewer.can_see),
            "section": match.section.value,
            "atom_ids": atom_ids,
            "payload": json.dumps(payload, ensure_ascii=False),
        }
        state = self._store.create_push(row, self._per_hour)
        return PushOutcome(
            rule_id=rule.id,
            rule_name=rule.name,
            reason=match.reason,
            state=state,
            push_id=push_id if state == "queued" else None,
        )


def _stage(value: object) -> Stage | None:
    return Stage(value) if isinstance(value, str) and value in Stage._value2member_map_ else None


# -- listing: what the caller may see of each push ----------------------------------------------
def visible_pushes(
    rows: Sequence[dict[str, object]],
    atoms: Sequence[StoredAtom],
    viewer: Viewer,
    graph: GraphSnapshot,
) -> list[PushPublic]:
    """Pushes as ``viewer`` may see them now: points citing atoms it may not see (by what the
    graph says now) are left out, and names it may not see (a customer, an industry, a
    competitor, a graph path) are not shown."""
    live = Filters(allow=viewer.can_see)
    visible = {s.atom.id for s in atoms if live.admits_live(s.live_meta())}
    scope = EntityScope(graph, viewer.can_see)
    return [_public(row, visible, scope) for row in rows]


def _public(row: dict[str, object], visible: set[str], scope: EntityScope) -> PushPublic:
    payload = json.loads(str(row["payload"]))
    brief = Brief.model_validate(payload["brief"])
    reason_entities = row.get("reason_entities") or []
    customer_entities = row.get("customer_entities") or []
    assert isinstance(reason_entities, list) and isinstance(customer_entities, list)
    reason = (
        row["reason"] if all(scope.entity(e) for e in reason_entities) else row["reason_generic"]
    )
    customer = (
        str(row["customer"]) if all(scope.entity(e) for e in customer_entities) else HIDDEN_NAME
    )
    return PushPublic(
        id=str(row["id"]),
        opportunity_id=str(row["opportunity_id"]),
        customer=customer,
        rep=str(row["rep"]),
        rule_id=str(row["rule_id"]),
        rule_name=str(row["rule_name"]),
        reason=str(reason),
        state=str(row["state"]),
        attempts=int(row["attempts"] or 0),  # type: ignore[call-overload]
        last_status=row.get("last_status"),
        last_error=row.get("last_error"),
        created_at=str(row["created_at"]),
        delivered_at=row.get("delivered_at"),
        brief=visible_brief(brief, visible, scope, customer),
    )


def visible_brief(brief: Brief, visible: set[str], scope: EntityScope, given: str) -> Brief:
    """``brief`` less the points citing atoms outside ``visible`` and the names ``scope``
    may not see (the customer falls back to the name the CRM gave)."""
    shown = scope.surface

    citations = [c for c in brief.citations if c.atom_id in visible]
    kept = {c.number for c in citations}
    for citation in citations:
        if not all(shown(n) for n in citation.path):
            citation.path = []
    sections = []
    for section in brief.sections:
        points = [p for p in section.points if set(p.citations) <= kept]
        empty = None if points else SECTIONS[section.key].empty
        sections.append(
            BriefSection(key=section.key, heading=section.heading, points=points, empty=empty)
        )
    customer_ok = shown(brief.customer)
    return brief.model_copy(
        update={
            "customer": brief.customer if customer_ok else given,
            "industry": brief.industry if brief.industry and shown(brief.industry) else None,
            "entities": [e for e in brief.entities if shown(e)],
            "sections": sections,
            "citations": citations,
        }
    )
