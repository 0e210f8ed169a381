"""One-off: turn some Markdown samples into the other formats people send (.docx, .pdf, .xlsx).

The committed samples in data/samples/ were produced with this script, so that ingest is tested
on real files of each format. It needs tools the product does not: `pip install fpdf2` and a
CJK TrueType font (Debian: `apt-get install fonts-wqy-microhei`).

    .venv/bin/python scripts/make_sample_formats.py FILE.md... [--pdf FILE.md...] [--xlsx-rows N]
"""

from __future__ import annotations

import argparse
import csv
import re
from pathlib import Path

FONT = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
_FRONT = re.compile(r"\A---\n(.*?)\n---\n", re.DOTALL)


def _parts(md: Path) -> tuple[list[str], list[tuple[int, str]]]:
    text = md.read_text(encoding="utf-8")
    meta: list[str] = []
    if match := _FRONT.match(text):
        meta = [line.replace(": ", "：", 1) for line in match.group(1).splitlines()]
        text = text[match.end() :]
    blocks: list[tuple[int, str]] = []
    for line in text.splitlines():
        if line.startswith("## "):
            blocks.append((2, line[3:].strip()))
        elif line.startswith("# "):
            blocks.append((1, line[2:].strip()))
        elif line.strip():
            blocks.append((0, line.strip()))
    return meta, blocks


def to_docx(md: Path) -> Path:
    import docx

    meta, blocks = _parts(md)
    document = docx.Document()
    for line in meta:
        document.add_paragraph(line)
    for level, text in blocks:
        if level:
            document.add_heading(text, level=level)
        else:
            document.add_paragraph(text)
    out = md.with_suffix(".docx")
    document.save(str(out))
    md.unlink()
    return out


def to_pdf(md: Path) -> Path:
    from fpdf import FPDF

    meta, blocks = _parts(md)
    pdf = FPDF()
    pdf.add_page()
    pdf.add_font("wqy", fname=FONT)
    pdf.set_margins(18, 18)
    for line in meta:
        pdf.set_font("wqy", size=10)
        pdf.multi_cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")
    for level, text in blocks:
        pdf.set_font("wqy", size={1: 16, 2: 13, 0: 11}[level])
        pdf.multi_cell(0, 8 if level else 7, text, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(2)
    out = md.with_suffix(".pdf")
    pdf.output(str(out))
    md.unlink()
    return out


def csv_tail_to_xlsx(path: Path, rows: int) -> Path:
    """Move the last ``rows`` rows of a glossary CSV into an .xlsx beside it."""
    from openpyxl import Workbook

    with path.open(encoding="utf-8", newline="") as f:
        table = list(csv.reader(f))
    header, body = table[0], table[1:]
    keep, move = body[:-rows], body[-rows:]
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "术语表"
    for row in [header, *move]:
        sheet.append(row)
    out = path.with_name(path.stem + "-extra.xlsx")
    workbook.save(str(out))
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([header, *keep])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("docx", nargs="*", type=Path)
    parser.add_argument("--pdf", nargs="*", type=Path, default=[])
    parser.add_argument("--xlsx-from", type=Path)
    parser.add_argument("--xlsx-rows", type=int, default=100)
    args = parser.parse_args()
    for md in args.docx:
        print(to_docx(md))
    for md in args.pdf:
        print(to_pdf(md))
    if args.xlsx_from:
        print(csv_tail_to_xlsx(args.xlsx_from, args.xlsx_rows))


if __name__ == "__main__":
    main()
