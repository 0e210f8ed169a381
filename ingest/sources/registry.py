"""Every source format SalesKG reads, by suffix: adding a format is adding its parser here."""

from __future__ import annotations

from ingest.sources.base import SourceParser, TextParser
from ingest.sources.markdown import load_text
from ingest.sources.office import load_docx, load_pdf
from ingest.sources.structured import JsonParser
from ingest.sources.tables import TableParser

PARSERS: tuple[SourceParser, ...] = (
    TextParser((".md", ".markdown", ".txt"), load_text),
    TextParser((".docx",), load_docx, archives=(".docx",)),
    TextParser((".pdf",), load_pdf),
    TableParser(),
    JsonParser(),
)

_BY_SUFFIX: dict[str, SourceParser] = {s: p for p in PARSERS for s in p.suffixes}
SUPPORTED_SUFFIXES: tuple[str, ...] = tuple(_BY_SUFFIX)


def parser_for(suffix: str) -> SourceParser | None:
    """The parser of a suffix (any case), or None when no format has it."""
    return _BY_SUFFIX.get(suffix.lower())
