"""A rep's dictated visit debrief, already transcribed, as field-note atoms citing the audio."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from ingest.parsed import ParsedSource
from ingest.sources import document_id
from kg.errors import IngestError
from kg.models import (
    Atom,
    AtomType,
    CurationStatus,
    Document,
    DocumentKind,
    SourceSpan,
    content_hash,
)

MAX_NOTE_CHARS = 120
_SENTENCE = re.compile(r"[^。！？!?]*[。！？!?]+|[^。！？!?]+$")


def debrief_source(
    audio: Path,
    transcript: str,
    relative: str,
    collection: str,
    status: CurationStatus = CurationStatus.DRAFT,
    owner: str | None = None,
) -> ParsedSource:
    """Group the transcript's sentences into notes of about ``MAX_NOTE_CHARS`` characters.

    Spans are character offsets into the transcript (kept as the document's metadata), and the
    document's path is the audio file's, so every note cites the recording it came from.
    """
    text = transcript.strip()
    if len(text) < 4:
        raise IngestError(f"{audio}: the recording has no recognisable speech")
    doc_id = document_id(collection, relative)
    title = f"语音纪要 {audio.stem}"
    atoms: list[Atom] = []
    start = end = 0
    for match in _SENTENCE.finditer(text):
        if end > start and match.end() - start > MAX_NOTE_CHARS:
            atoms.append(_note(doc_id, title, text, start, end, len(atoms), status, owner))
            start = match.start()
        end = match.end()
    if end > start:
        atoms.append(_note(doc_id, title, text, start, end, len(atoms), status, owner))
    document = Document(
        id=doc_id,
        path=relative,
        collection=collection,
        title=title,
        kind=DocumentKind.VOICE_DEBRIEF,
        content_hash=content_hash(DocumentKind.VOICE_DEBRIEF, *(a.content_hash for a in atoms)),
        metadata={"transcript": text},
    )
    return ParsedSource(document, atoms)


def _note(
    doc_id: str,
    title: str,
    text: str,
    start: int,
    end: int,
    number: int,
    status: CurationStatus,
    owner: str | None,
) -> Atom:
    section = f"第{number + 1}段"
    return Atom(
        id="atom-" + hashlib.sha1(f"{doc_id}\x1f{number}".encode()).hexdigest()[:16],
        type=AtomType.FIELD_NOTE,
        title=f"{title} · {section}",
        text=f"【{title}】{text[start:end].strip()}",
        source=SourceSpan(document_id=doc_id, section=section, start=start, end=end),
        status=status,
        owner=owner,
    )
