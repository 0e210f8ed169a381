"""The interfaces' contract suites (tests/contracts/) on every real implementation: the
``GraphStore`` on Neo4j, each ``Embedder`` the settings offer (OpenVINO, the default;
CTranslate2 int8; PyTorch sentence-transformers) and each ``Transcriber`` backend
(faster-whisper, openai-whisper). The unit tests run the same suites on the fakes."""

from __future__ import annotations

import pytest

from api import assembly
from api.models_setup import default_models, prepare
from speech.audio import decode
from tests.conftest import EVAL_DATA
from tests.contracts.embedder import EmbedderContract
from tests.contracts.store import DIMENSIONS, GraphStoreContract
from tests.contracts.transcriber import TranscriberContract

pytestmark = pytest.mark.integration

SPEECH = EVAL_DATA / "speech_zh" / "questions"


class TestNeo4jGraphStore(GraphStoreContract):
    @pytest.fixture
    def store(self, store):  # the session's test graph; each case keeps to its own ids
        store.ensure_schema(DIMENSIONS)
        return store


@pytest.fixture(scope="module", params=["openvino", "ct2-int8", "torch"])
def each_embedder(request, settings):
    chosen = settings.model_copy(update={"encoder": request.param})
    # What `skg models prepare` does when SKG_ENCODER names this runtime (a clean clone has
    # prepared only the default one); a no-op when the model is in place.
    for model in default_models(chosen):
        prepare(model)
    return assembly.load_embedder(chosen)


class TestEmbedders(EmbedderContract):
    @pytest.fixture
    def embedder(self, each_embedder):
        return each_embedder


@pytest.fixture(scope="module", params=["faster-whisper", "openai-whisper"])
def each_transcriber(request, settings):
    return assembly.load_transcriber(settings.model_copy(update={"whisper_backend": request.param}))


@pytest.fixture(scope="module")
def clip():
    return decode(SPEECH / "q01.wav")


@pytest.fixture(scope="module")
def reference():
    line = (SPEECH / "questions.tsv").read_text(encoding="utf-8").splitlines()[0]
    return line.split("\t")[1]


class TestTranscribers(TranscriberContract):
    @pytest.fixture
    def transcriber(self, each_transcriber):
        return each_transcriber
