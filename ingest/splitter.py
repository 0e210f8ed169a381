"""Split a source text into self-contained knowledge atoms, one per section.

A case study splits by its sections (背景/挑战/方案/成果/证言), a post-mortem by what happened /
why / lessons, a glossary by term headings. Each atom carries its document's title so that it
reads on its own; text without headings falls back to paragraphs.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from ingest.limits import tick
from ingest.parsed import SourceText, metadata_entities, parse_status, parse_visibility
from kg.errors import IngestError
from kg.models import Atom, AtomType, CurationStatus, DocumentKind, SourceSpan, Visibility

_HEADING = re.compile(r"^(#{2,3})\s+(.+?)\s*$", re.MULTILINE)
MIN_ATOM_CHARS = 8

# Section heading keywords -> atom type, checked in order.
SECTION_TYPES: tuple[tuple[tuple[str, ...], AtomType], ...] = (
    (("话术", "怎么说", "沟通要点"), AtomType.TALK_TRACK),
    (("异议", "顾虑", "质疑"), AtomType.OBJECTION),
    (("竞品", "竞争对手", "对手"), AtomType.COMPETITOR),
    (("教训", "原因", "经过", "复盘", "改进"), AtomType.LESSON),
    (("痛点", "挑战", "问题"), AtomType.PAIN_POINT),
    (("方案", "做法", "技术"), AtomType.SOLUTION_POINT),
    (("成果", "证言", "效果", "收益"), AtomType.CASE),
)
DEFAULT_TYPE = {
    DocumentKind.CASE_STUDY: AtomType.CASE,
    DocumentKind.POST_MORTEM: AtomType.LESSON,
    DocumentKind.GLOSSARY: AtomType.TERM,
    DocumentKind.NOTE: AtomType.SOLUTION_POINT,
}


@dataclass(frozen=True)
class SplitOptions:
    """Choices an ingest run makes for every atom it cuts."""

    default_status: CurationStatus = CurationStatus.DRAFT
    # For atoms whose source does not say (e.g. files uploaded through the API by a team).
    default_visibility: Visibility = Visibility.PUBLIC
    default_team: str | None = None
    default_owner: str | None = None

    def apply_defaults(self, atoms: list[Atom]) -> None:
        """Give atoms built without metadata (tables, triples) the run's defaults."""
        for atom in atoms:
            atom.status = self.default_status
            atom.visibility = self.default_visibility
            atom.team = atom.team or self.default_team
            atom.owner = atom.owner or self.default_owner
            atom.rehash()


@dataclass(frozen=True)
class Section:
    heading: str
    text: str
    start: int
    end: int


def split(source: SourceText, doc_id: str, options: SplitOptions | None = None) -> list[Atom]:
    """Cut a source into atoms; the atom ids are stable across runs.

    Front matter sets every atom's owner (负责人), visibility (可见范围: 公开/团队/个人), team
    (团队) and curation status (状态: 草稿/已审核/已废弃), and the entities it is about.
    """
    options = options or SplitOptions()
    meta = source.metadata
    try:
        visibility = parse_visibility(meta.get("可见范围"), options.default_visibility)
        status = parse_status(meta.get("状态"), options.default_status)
    except ValueError as exc:
        raise IngestError(f"{source.path}: {exc}") from exc
    about = [e.id for e in metadata_entities(meta)[0]]
    atoms = []
    for ordinal, section in enumerate(_sections(source.body)):
        tick()
        text = section.text.strip()
        if len(text) < MIN_ATOM_CHARS:
            continue
        atom_type = _atom_type(source.kind, section.heading)
        title = f"{source.title} · {section.heading}" if section.heading else source.title
        if atom_type is AtomType.TERM:
            title = section.heading or source.title
            body = f"{section.heading}：{text}"
        else:
            body = f"【{title}】{text}"
        key = f"{doc_id}\x1f{section.heading}\x1f{ordinal}"
        atoms.append(
            Atom(
                id="atom-" + hashlib.sha1(key.encode("utf-8")).hexdigest()[:16],
                type=atom_type,
                title=title,
                text=body,
                source=SourceSpan(
                    document_id=doc_id,
                    section=section.heading,
                    start=source.body_offset + section.start,
                    end=source.body_offset + section.end,
                ),
                entities=list(about),
                owner=meta.get("负责人") or options.default_owner,
                visibility=visibility,
                team=meta.get("团队") or options.default_team,
                status=status,
            )
        )
    return atoms


def _sections(body: str) -> list[Section]:
    headings = list(_HEADING.finditer(body))
    if not headings:
        return _paragraphs(body)
    sections = []
    for i, match in enumerate(headings):
        start = match.end()
        end = headings[i + 1].start() if i + 1 < len(headings) else len(body)
        sections.append(Section(match.group(2), _strip_title(body[start:end]), start, end))
    return sections


def _paragraphs(body: str) -> list[Section]:
    sections, pos = [], 0
    for block in re.split(r"\n\s*\n", body):
        start = body.index(block, pos)
        pos = start + len(block)
        if block.strip() and not block.lstrip().startswith("# "):
            sections.append(Section("", block, start, pos))
    return sections


def _strip_title(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.startswith("# "))


def _atom_type(kind: DocumentKind, heading: str) -> AtomType:
    if kind is DocumentKind.GLOSSARY:
        return AtomType.TERM
    for keywords, atom_type in SECTION_TYPES:
        if any(k in heading for k in keywords):
            return atom_type
    return DEFAULT_TYPE[kind]
