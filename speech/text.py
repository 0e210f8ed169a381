"""Transcript clean-up: Traditional -> Simplified Chinese."""

from __future__ import annotations

from functools import lru_cache

from opencc import OpenCC


@lru_cache(maxsize=1)
def _converter() -> OpenCC:
    return OpenCC("t2s")


def to_simplified(text: str) -> str:
    return str(_converter().convert(text)).strip()
