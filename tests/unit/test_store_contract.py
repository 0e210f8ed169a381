"""The ``GraphStore`` contract on the unit tests' in-memory fake (Neo4j runs the same cases in
tests/integration/test_contracts.py)."""

import pytest

from tests.contracts.store import GraphStoreContract
from tests.unit.fakes import MemoryGraphStore

pytestmark = pytest.mark.unit


class TestMemoryGraphStore(GraphStoreContract):
    @pytest.fixture
    def store(self):
        return MemoryGraphStore()
