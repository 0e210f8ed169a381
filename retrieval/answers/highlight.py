"""Highlights: the passages of an atom's text where the question's words occur.

Elasticsearch-style fragments, the matched words wrapped in ``<em>``; everything else in the
fragment is HTML-escaped, so a client may insert the fragment as HTML.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable

FRAGMENT_CHARS = 80
MAX_FRAGMENTS = 3


def highlight(text: str, terms: Iterable[str], fragment_chars: int = FRAGMENT_CHARS) -> list[str]:
    """Up to ``MAX_FRAGMENTS`` fragments of ``text`` around the terms, best-covered first."""
    words = sorted({t for t in terms if len(t.strip()) >= 2}, key=len, reverse=True)
    if not words:
        return []
    pattern = re.compile("|".join(re.escape(w) for w in words), re.IGNORECASE)
    matches = list(pattern.finditer(text))
    if not matches:
        return []
    windows: list[tuple[int, int]] = []
    for match in matches:
        start = max(0, match.start() - fragment_chars // 3)
        if windows and start < windows[-1][1]:
            continue
        windows.append((start, min(len(text), start + fragment_chars)))

    def coverage(window: tuple[int, int]) -> int:
        return len({m.group(0).lower() for m in matches if window[0] <= m.start() < window[1]})

    best = sorted(windows, key=lambda w: (-coverage(w), w[0]))[:MAX_FRAGMENTS]
    return [_mark(text, start, end, pattern) for start, end in best]


def _mark(text: str, start: int, end: int, pattern: re.Pattern[str]) -> str:
    piece = text[start:end]
    out, last = [], 0
    for match in pattern.finditer(piece):
        out.append(html.escape(piece[last : match.start()]))
        out.append(f"<em>{html.escape(match.group(0))}</em>")
        last = match.end()
    out.append(html.escape(piece[last:]))
    prefix = "…" if start > 0 else ""
    suffix = "…" if end < len(text) else ""
    return prefix + "".join(out) + suffix
