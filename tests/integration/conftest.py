"""Fixtures of the integration tests beside those of tests/conftest.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.pages import require_chromium


@pytest.fixture(scope="module")
def chromium() -> Path:
    """Debian's Chromium (`make browser`): fails in CI without it, skips elsewhere."""
    return require_chromium()
