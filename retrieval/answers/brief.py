"""Briefs: what a rep should know for an opportunity's next step, composed from what the CRM
holds (customer, industry, products, stage, competitors, contacts' roles, recent notes),
without a question.

The stage chooses the sections and their order (``STAGE_SECTIONS``). For each section the
context becomes a query (its names, roles and notes, and the section's cue words), ranked by
the served retriever with the section's atom types and the caller's access rules as filters.
Atoms about the customer come first; then atoms about the context's other entities (its
industry, products, the competitors named, terms in the notes) and, for cases, about its
peers in the industry (graph neighbours); then atoms the text alone found, only when the
knowledge is confident of them. An atom, or a near-copy of its text, is used once per brief.
A customer the caller may not see, or the graph does not know, is treated as unknown: the
brief falls back to its industry's knowledge and says so.

Every point cites its atom as an answer does (``retrieval.answers.answer.Citation``); names shown
(the customer, the industry found through the graph) are only those the caller may see.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from kg.models import SEARCHABLE_STATUSES
from kg.store import ServingStore, StoredAtom
from retrieval.answers.answer import AnswerPoint, Citation, citation, point_text
from retrieval.answers.brief_sections import (
    MAX_QUERY_CHARS,
    SECTIONS,
    Brief,
    BriefContext,
    BriefSection,
    SectionKey,
    SectionSpec,
    near_duplicate,
    section_query,
    sections_for,
)
from retrieval.query import QueryAnalyzer
from retrieval.retrievers.graph import GraphSnapshot
from retrieval.retrievers.hybrid import Filters, HybridRetriever
from retrieval.visibility import EntityScope

Allow = Callable[[Mapping[str, str]], bool]
DEPTH = 30  # candidates looked at per section
TEXT_ONLY = 3  # the tier of atoms about none of the context's entities
# Their admission asks this much confidence of the context's words (docs/retrieval.md: at 0.6
# answers keep 90 % of answerable questions and decline 79 % of unanswerable ones).
TEXT_ONLY_CONFIDENCE = 0.6
WORDS_DEPTH = 10  # and they must be among the atoms the words alone rank this high
ANCHORED_MIN_SHARE = 0.35  # atoms not about the customer: this share of the best's score
BROAD_KINDS = frozenset({"Region"})  # too broad to make an atom about the opportunity


@dataclass(frozen=True)
class Anchors:
    """The context's entities as this caller may see them (ids), and the names to show."""

    customer: str | None = None
    customer_name: str = ""
    industries: tuple[str, ...] = ()
    close: frozenset[str] = frozenset()  # what it cares about and buys, what the context names
    broad: frozenset[str] = frozenset()  # its industries and its peers in them
    names: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Pick:
    atom_id: str
    path: tuple[str, ...]
    tier: int  # 0: the customer, 1: close entities, 2: its industry or peers, 3: text only
    score: float


class BriefComposer:
    """Composes briefs over one index generation (the same one search uses)."""

    def __init__(
        self,
        analyzer: QueryAnalyzer,
        retriever: HybridRetriever,
        graph: GraphSnapshot,
        store: ServingStore,
    ) -> None:
        self._analyzer = analyzer
        self._retriever = retriever
        self._graph = graph
        self._store = store
        self._mentions: dict[str, set[str]] = {}
        for entity_id, atoms in graph.mentions.items():
            for atom_id in atoms:
                self._mentions.setdefault(atom_id, set()).add(entity_id)

    def compose(self, context: BriefContext, allow: Allow | None = None) -> Brief:
        """The brief for ``context`` as a caller with access rules ``allow`` may see it (None:
        everything, for the operator's CLI)."""
        anchors = self.anchors(context, allow)
        named_competitors = bool(context.competitors) or any(
            self._graph.kinds.get(e) == "Competitor" for e in anchors.close
        )
        keys = sections_for(context.stage, named_competitors)
        return self._brief(context, anchors, keys, allow, "")

    def section(
        self,
        context: BriefContext,
        key: SectionKey,
        allow: Allow | None = None,
        text: str = "",
    ) -> Brief:
        """One section for ``context`` (a push), its query led by ``text`` (the words that
        triggered it: a customer's question, an objection)."""
        return self._brief(context, self.anchors(context, allow), (key,), allow, text)

    # -- who the context is about --------------------------------------------------------
    def anchors(self, context: BriefContext, allow: Allow | None) -> Anchors:
        scope = EntityScope(self._graph, allow) if allow is not None else None
        given = (
            context.customer.split(":", 1)[1]
            if context.customer.startswith("customer:")
            else context.customer
        )
        customers = self._recognise(given, scope, "Customer")
        customer = customers[0] if customers else None
        industries = self._recognise(context.industry or "", scope, "Industry")
        if customer is not None and not industries:
            industries = [
                n
                for n, relation in self._graph.neighbours.get(customer, [])
                if self._graph.kinds.get(n) == "Industry"
                and (scope is None or scope.relation(customer, relation, n))
            ]
        # What the customer cares about and buys (its graph neighbours), and the products and
        # competitors the context names: closer to the deal than its industry. What the notes
        # name counts as much as the industry (a term like 热失控 spans several industries).
        close = {
            n
            for n, relation in self._graph.neighbours.get(customer or "", [])
            if scope is None or scope.relation(customer or "", relation, n)
        }
        for text in (*context.products, *context.competitors):
            close |= set(self._recognise(text, scope, None))
        peers = {
            n
            for industry in industries
            for n, relation in self._graph.neighbours.get(industry, [])
            if self._graph.kinds.get(n) == "Customer"
            and n != customer
            and (scope is None or scope.relation(industry, relation, n))
        }
        broad = set(industries) | peers | set(self._recognise(context.notes, scope, None))
        close -= broad | {customer or ""}
        names = [self._graph.names.get(i, i) for i in (customer, *industries) if i]
        return Anchors(
            customer=customer,
            customer_name=self._graph.names.get(customer, given) if customer else given,
            industries=tuple(industries),
            close=frozenset(e for e in close if self._graph.kinds.get(e) not in BROAD_KINDS),
            broad=frozenset(e for e in broad if self._graph.kinds.get(e) not in BROAD_KINDS),
            names=tuple(dict.fromkeys(names)),
        )

    def recognise(self, text: str, allow: Allow | None, kind: str | None = None) -> list[str]:
        """Ids of the entities (of ``kind``, an entity label such as ``Competitor``) that
        ``text`` names by a name or alias the caller may see."""
        scope = EntityScope(self._graph, allow) if allow is not None else None
        return self._recognise(text, scope, kind)

    def name(self, entity_id: str) -> str:
        return self._graph.names.get(entity_id, entity_id)

    def _recognise(self, text: str, scope: EntityScope | None, kind: str | None) -> list[str]:
        if not text.strip():
            return []
        query = self._analyzer.analyze(text[:500])
        if scope is not None:
            query = query.scoped(scope)
        return [e.id for e in query.entities if kind is None or self._graph.kinds.get(e.id) == kind]

    # -- choosing and reading the points ---------------------------------------------------
    def _brief(
        self,
        context: BriefContext,
        anchors: Anchors,
        keys: Sequence[SectionKey],
        allow: Allow | None,
        text: str,
    ) -> Brief:
        found_by_words = self._found_by_words(context, allow, text)
        chosen: dict[SectionKey, list[_Pick]] = {}
        for key in keys:
            spec = SECTIONS[key]
            chosen[key] = self._candidates(context, anchors, spec, allow, text, found_by_words)
        ids = list(dict.fromkeys(p.atom_id for picks in chosen.values() for p in picks))
        stored = {s.atom.id: s for s in self._store.atoms(ids)}
        live = Filters(statuses=SEARCHABLE_STATUSES, allow=allow)
        citations: list[Citation] = []
        sections: list[BriefSection] = []
        used: set[str] = set()  # atom ids and point texts already in the brief
        for key in keys:
            spec = SECTIONS[key]
            picks = _preferred_first(chosen[key], stored, spec.prefer)
            points = self._points(spec, picks, stored, live, used, citations)
            sections.append(
                BriefSection(
                    key=key,
                    heading=spec.heading,
                    points=points,
                    empty=None if points else spec.empty,
                )
            )
        return Brief(
            customer=anchors.customer_name,
            customer_known=anchors.customer is not None,
            stage=context.stage,
            industry=self._graph.names.get(anchors.industries[0])
            if anchors.industries
            else context.industry,
            note=_fallback_note(context, anchors),
            entities=list(anchors.names),
            sections=sections,
            citations=citations,
        )

    @staticmethod
    def _points(
        spec: SectionSpec,
        picks: Sequence[_Pick],
        stored: Mapping[str, StoredAtom],
        live: Filters,
        used: set[str],
        citations: list[Citation],
    ) -> list[AnswerPoint]:
        """A section's points: atoms as the graph says now, at most ``spec.per_document`` of
        a document and ``per_type`` of a type, none used before or repeating an earlier point;
        each cited (``citations`` grows)."""
        points: list[AnswerPoint] = []
        counts: Counter[str] = Counter()
        for pick in picks:
            atom = stored.get(pick.atom_id)
            if atom is None or pick.atom_id in used or not live.admits_live(atom.live_meta()):
                continue
            point = point_text(atom.atom.text)
            document, kind = "doc:" + atom.atom.source.document_id, atom.atom.type.value
            if (
                counts[document] >= spec.per_document
                or counts[kind] >= dict(spec.per_type).get(kind, spec.limit)
                or any(near_duplicate(point, earlier) for earlier in used)
            ):
                continue
            counts.update((document, kind))
            used.update((pick.atom_id, point))
            citations.append(citation(len(citations) + 1, atom, pick.path))
            points.append(AnswerPoint(text=point, citations=[len(citations)]))
            if len(points) == spec.limit:
                break
        return points

    def _candidates(
        self,
        context: BriefContext,
        anchors: Anchors,
        spec: SectionSpec,
        allow: Allow | None,
        text: str,
        found_by_words: frozenset[str],
    ) -> list[_Pick]:
        """The section's candidates in the order they would be shown (more than it shows:
        some may be dropped when read back, or as near-copies of another section's)."""
        filters = Filters(types=spec.types, statuses=SEARCHABLE_STATUSES, allow=allow)
        names = [anchors.customer_name, *(self._graph.names.get(i, "") for i in anchors.industries)]
        query_text = section_query(context, spec, names, text)
        query = self._retriever.scope(self._analyzer.analyze(query_text), filters)
        page = self._retriever.page(query, 0, DEPTH, filters)
        top = page.hits[0].score if page.hits else 0.0
        picks = []
        for hit in page.hits:
            tier = self._tier(hit.atom_id, anchors)
            if tier == TEXT_ONLY and not (
                hit.atom_id in found_by_words and hit.score >= spec.min_share * top
            ):
                continue
            # Linked through a context entity but far below the section's best: a loose link
            # (a broad term, an alias matched in passing), not knowledge about this deal.
            if tier > 0 and hit.score < ANCHORED_MIN_SHARE * top:
                continue
            kind = self._graph.atoms.get(hit.atom_id, {}).get("type")
            if kind in spec.customer_only and (tier > 0 or not self._cares(hit.atom_id, anchors)):
                continue
            picks.append(_Pick(hit.atom_id, hit.path, tier, hit.score))
        picks.sort(key=lambda p: (p.tier, -p.score))
        return picks[: 3 * spec.limit + 4]

    def _found_by_words(
        self, context: BriefContext, allow: Allow | None, text: str
    ) -> frozenset[str]:
        """Atoms the context's own words (a push's words, the notes, products and competitors
        as written) find, when they find knowledge the caller may see with confidence: the only
        atoms about none of the context's entities a brief may hold. A section's cue words
        alone would find any (「开场 话术」 matches every talk track); a brief has no question,
        so it asks more confidence than an answer (``TEXT_ONLY_CONFIDENCE``)."""
        words = " ".join([text, *context.products, *context.competitors, context.notes]).strip()
        if not words:
            return frozenset()
        filters = Filters(statuses=SEARCHABLE_STATUSES, allow=allow)
        query = self._retriever.scope(self._analyzer.analyze(words[:MAX_QUERY_CHARS]), filters)
        page = self._retriever.page(query, 0, WORDS_DEPTH, filters)
        if page.confidence < max(self._retriever.threshold, TEXT_ONLY_CONFIDENCE):
            return frozenset()
        return frozenset(hit.atom_id for hit in page.hits)

    def _cares(self, atom_id: str, anchors: Anchors) -> bool:
        """Whether an atom names something the customer cares about (a term it is related to
        in the graph): its card of concerns, not its profile (region, product)."""
        return any(
            self._graph.kinds.get(e) == "Term"
            for e in self._mentions.get(atom_id, set()) & anchors.close
        )

    def _tier(self, atom_id: str, anchors: Anchors) -> int:
        mentions = self._mentions.get(atom_id, set())
        if anchors.customer and anchors.customer in mentions:
            return 0
        if mentions & anchors.close:
            return 1
        if mentions & anchors.broad:
            return 2
        return TEXT_ONLY


def _preferred_first(
    picks: Sequence[_Pick], stored: Mapping[str, StoredAtom], words: Sequence[str]
) -> list[_Pick]:
    """Within each document, atoms of a preferred section (a case's 成果, with its numbers)
    take the place of the document's first pick; documents keep their order."""
    if not words:
        return list(picks)

    def preferred(pick: _Pick) -> bool:
        atom = stored.get(pick.atom_id)
        return atom is not None and any(w in atom.atom.source.section for w in words)

    def document(pick: _Pick) -> str:
        atom = stored.get(pick.atom_id)
        return atom.atom.source.document_id if atom is not None else pick.atom_id

    groups: dict[str, list[_Pick]] = {}
    for pick in picks:
        groups.setdefault(document(pick), []).append(pick)
    return [p for group in groups.values() for p in sorted(group, key=lambda p: not preferred(p))]


def _fallback_note(context: BriefContext, anchors: Anchors) -> str | None:
    if anchors.customer is not None:
        return None
    given = context.customer.strip() or "（未填写）"
    if anchors.industries:
        industry = "、".join(anchors.names)
        return f"知识库中没有客户「{given}」的资料，以下按「{industry}」行业的通用知识整理。"
    return (
        f"知识库中没有客户「{given}」的资料，也未识别到行业，"
        "以下按产品、竞品与备注检索到的通用知识整理，仅供参考。"
    )
