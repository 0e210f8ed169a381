"""The ``Embedder`` contract on the unit tests' hashing fake (the real encoders run the same
cases in tests/integration/test_contracts.py)."""

import pytest

from tests.contracts.embedder import EmbedderContract
from tests.unit.fakes import HashEmbedder

pytestmark = pytest.mark.unit


class TestHashEmbedder(EmbedderContract):
    @pytest.fixture
    def embedder(self):
        return HashEmbedder()
