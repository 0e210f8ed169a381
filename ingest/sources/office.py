"""Word (.docx) and PDF (text layer) into Markdown-like text for the splitter.

Leading ``key: value`` lines with known keys (类型, 客户...) become metadata, as front matter
does in Markdown. In a PDF, short lines that name a known section (背景, 方案, 教训...) become
``##`` headings. Spans of atoms from these formats refer to the extracted text.
"""

from __future__ import annotations

import re
from pathlib import Path
from zipfile import BadZipFile

from ingest.limits import tick
from ingest.parsed import SourceText
from ingest.sources.markdown import source_text
from kg.errors import IngestError

METADATA_KEYS = (
    "类型",
    "客户",
    "行业",
    "产品",
    "负责人",
    "可见范围",
    "团队",
    "状态",
    "结果",
    "标题",
)
SECTION_WORDS = (
    "背景",
    "挑战",
    "痛点",
    "方案",
    "成果",
    "客户证言",
    "证言",
    "推荐话术",
    "话术",
    "常见异议与应对",
    "异议",
    "经过",
    "原因",
    "竞品",
    "教训",
    "改进措施",
    "客户反馈",
)
_META_LINE = re.compile(r"^(" + "|".join(METADATA_KEYS) + r")\s*[:：]\s*(.+)$")


def load_docx(path: Path) -> SourceText:
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, BadZipFile, KeyError, ValueError) as exc:
        raise IngestError(f"{path}: not a readable Word (.docx) file ({exc})") from exc
    lines = []
    for paragraph in document.paragraphs:
        tick()
        text = paragraph.text.strip()
        style = (paragraph.style.name if paragraph.style is not None else "").lower()
        if not text:
            continue
        if style in ("title", "heading 1"):
            lines.append(f"# {text}")
        elif style.startswith("heading"):
            lines.append(f"## {text}")
        else:
            lines.append(text)
    for table in document.tables:
        for row in table.rows:
            tick()
            lines.append(" | ".join(cell.text.strip() for cell in row.cells))
    return _with_metadata(path, lines)


def load_pdf(path: Path) -> SourceText:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path))
        pages = []
        for page in reader.pages:
            tick()
            pages.append(page.extract_text() or "")
    except (PdfReadError, ValueError, KeyError) as exc:
        raise IngestError(f"{path}: not a readable PDF ({exc})") from exc
    lines = [line.strip() for page in pages for line in page.splitlines() if line.strip()]
    if not lines:
        raise IngestError(f"{path}: the PDF has no text layer (scanned images are not supported)")
    marked: list[str] = []
    title_seen = False
    paragraph = ""
    for line in lines:
        if not title_seen:
            if _META_LINE.match(line):
                marked.append(line)
            else:
                marked.append(f"# {line}")
                title_seen = True
        elif line in SECTION_WORDS:
            marked += [paragraph, f"## {line}"] if paragraph else [f"## {line}"]
            paragraph = ""
        else:
            # A PDF wraps paragraphs into lines; Chinese needs no space to join them.
            paragraph += line
            if line.endswith(("。", "！", "？", "；", "”", "：")):
                marked.append(paragraph)
                paragraph = ""
    if paragraph:
        marked.append(paragraph)
    return _with_metadata(path, marked)


def _with_metadata(path: Path, lines: list[str]) -> SourceText:
    metadata: dict[str, str] = {}
    body_start = 0
    for i, line in enumerate(lines):
        if match := _META_LINE.match(line):
            metadata[match.group(1)] = match.group(2).strip()
            body_start = i + 1
        else:
            break
    body = "\n\n".join(lines[body_start:]) + "\n"
    return source_text(path, body, metadata)
