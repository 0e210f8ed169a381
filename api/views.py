"""Graph records as the API shows them."""

from __future__ import annotations

from dataclasses import replace

from api.schemas import AtomPublic, CitationPublic, EntityRef
from kg.models import ATOM_TYPE_LABELS_ZH
from kg.store import StoredAtom
from retrieval.retrievers.graph import GraphSnapshot
from retrieval.visibility import EntityScope
from speech.recognizer import Recognition


def atom_public(stored: StoredAtom) -> AtomPublic:
    atom = stored.atom
    return AtomPublic(
        id=atom.id,
        type=atom.type.value,
        type_label=ATOM_TYPE_LABELS_ZH[atom.type],
        title=atom.title,
        text=atom.text,
        status=atom.status.value,
        version=atom.version,
        visibility=atom.visibility.value,
        team=atom.team,
        owner=atom.owner,
        updated_at=atom.updated_at,
    )


def citation_public(stored: StoredAtom) -> CitationPublic:
    source = stored.atom.source
    return CitationPublic(
        document_id=source.document_id,
        document_title=stored.document_title,
        document_path=stored.document_path,
        section=source.section,
        start=source.start,
        end=source.end,
    )


def entity_refs(ids: list[str], graph: GraphSnapshot) -> list[EntityRef]:
    return [
        EntityRef(id=i, name=graph.names.get(i, i.split(":", 1)[-1]), kind=graph.kinds.get(i, ""))
        for i in ids
    ]


def visible_recognition(recognition: Recognition, scope: EntityScope) -> Recognition:
    """The transcript as one caller may read it: a correction to a name the caller may not see
    (another team's customer) is undone, so the transcript never brings a hidden name in."""
    allowed = [c for c in recognition.changes if scope.surface(c.term)]
    if len(allowed) == len(recognition.changes):
        return recognition
    raw = recognition.raw.text
    parts, at = [], 0
    for change in allowed:  # changes are ordered, apart, and positioned in the raw text
        parts += [raw[at : change.start], change.term]
        at = change.start + len(change.heard)
    parts.append(raw[at:])
    return replace(recognition, text="".join(parts), changes=allowed)
