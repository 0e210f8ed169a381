"""Assembly: build the heavy objects from settings, once per process."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable

from api.settings import Settings
from ingest.limits import ParseLimits
from kg.errors import ConfigError, ModelError
from kg.neo4j_store import Neo4jGraphStore, connect
from kg.server import LocalNeo4jServer, ServerConfig
from kg.store import ServingStore
from retrieval.answers.polish import OpenAICompatiblePolisher
from retrieval.embedding.base import Embedder
from retrieval.embedding.lazy import LazyEmbedder
from retrieval.embedding.sentence_transformer import SentenceTransformerEmbedder
from retrieval.index.bundle import IndexBundle
from retrieval.query import QueryAnalyzer
from retrieval.retrievers.graph import GraphSnapshot
from retrieval.served import served_retriever
from retrieval.service import SearchService
from retrieval.visibility import EntityScope
from speech.audio import AudioLimits
from speech.base import Transcriber
from speech.correction import PinyinCorrector
from speech.recognizer import NO_SCREENING, Screening, SpeechRecognizer

logger = logging.getLogger(__name__)


def local_server(settings: Settings) -> LocalNeo4jServer:
    return LocalNeo4jServer(
        ServerConfig(
            dist_dir=settings.home / "neo4j-dist",
            home_dir=settings.neo4j_home_path,
            bolt_port=settings.neo4j_bolt_port,
            http_port=settings.neo4j_http_port,
            listen_address=settings.neo4j_listen_address,
            heap=settings.neo4j_heap,
            pagecache=settings.neo4j_pagecache,
            java_home=settings.java_home,
            start_timeout_s=settings.neo4j_start_timeout,
        )
    )


def open_store(settings: Settings) -> Neo4jGraphStore:
    """Connect to Neo4j and make sure the schema is in place (idempotent)."""
    driver = connect(
        settings.bolt_uri,
        settings.neo4j_user,
        settings.password(),
        retry_s=settings.neo4j_retry_seconds,
    )
    store = Neo4jGraphStore(driver, settings.neo4j_database)
    store.ensure_schema(settings.embedding_dimensions)
    return store


def load_embedder(settings: Settings, *, lazy: bool = False) -> Embedder:
    """The encoder of ``SKG_ENCODER`` for the prepared e5 (OpenVINO by default), PyTorch for
    ``SKG_ENCODER=torch`` or a custom ``SKG_EMBEDDING_MODEL``. ``lazy``: loaded on first use
    (an index sync with nothing to embed never loads it)."""
    runtime = "torch" if settings.embedding_model is not None else settings.encoder
    folder = settings.encoder_path
    threads = settings.encoder_threads
    dimensions = settings.embedding_dimensions
    load: Callable[[], Embedder]
    if runtime == "torch":
        source = settings.embedding_model_path
        name = source.name  # SentenceTransformerEmbedder's

        def load() -> Embedder:
            return SentenceTransformerEmbedder(source)

    else:
        if not (folder / "skg-encoder.json").is_file():
            raise ModelError(
                f"The encoder ({settings.encoder}) is not prepared in {folder}: run "
                "`skg models prepare`."
            )
        if runtime == "ct2-int8":
            from retrieval.embedding.ct2 import Ct2Embedder
            from retrieval.embedding.ct2 import encoder_name as ct2_name

            name = ct2_name(folder)

            def load() -> Embedder:
                return Ct2Embedder(folder, threads=threads)

        else:
            from retrieval.embedding.openvino_encoder import OpenVinoEmbedder
            from retrieval.embedding.openvino_encoder import encoder_name as openvino_name

            precision = "f32" if runtime == "openvino-f32" else "auto"
            name = openvino_name(folder, precision)

            def load() -> Embedder:
                return OpenVinoEmbedder(folder, threads=threads, precision=precision)

    if lazy:
        return LazyEmbedder(load, name, dimensions)
    embedder = load()
    if embedder.dimensions != settings.embedding_dimensions:
        raise ConfigError(
            f"The embedding model {embedder.name} makes {embedder.dimensions}-dimensional "
            f"vectors; set SKG_EMBEDDING_DIMENSIONS={embedder.dimensions}."
        )
    return embedder


def parse_limits(settings: Settings) -> ParseLimits:
    return ParseLimits(
        max_file_bytes=settings.ingest_max_bytes,
        max_expanded_bytes=settings.ingest_max_expanded_bytes,
        max_atoms=settings.ingest_max_atoms,
        max_seconds=settings.ingest_parse_seconds,
    )


def audio_limits(settings: Settings) -> AudioLimits:
    return AudioLimits(
        max_seconds=settings.audio_max_seconds,
        max_bytes=settings.audio_max_bytes,
        decode_seconds=settings.audio_decode_seconds,
    )


def speech_screening(settings: Settings) -> Screening:
    """Voice activity detection before Whisper (unless SKG_VAD=false) and its time budget."""
    vad = None
    if settings.vad:
        from speech.silero_vad import SileroVoiceDetector

        vad = SileroVoiceDetector()
    return Screening(vad=vad, transcribe_seconds=settings.transcribe_seconds)


def load_transcriber(settings: Settings) -> Transcriber:
    path = settings.whisper_model_path
    if settings.whisper_backend == "openai-whisper":
        from speech.openai_whisper_backend import OpenAIWhisperTranscriber

        return OpenAIWhisperTranscriber(path)
    from speech.faster_whisper_backend import FasterWhisperTranscriber

    return FasterWhisperTranscriber(
        path,
        beam_size=settings.whisper_beam_size,
        threads=settings.whisper_threads,
        fallback=settings.whisper_fallback,
        window_s=settings.whisper_window_s,
    )


# Entity kinds whose names and aliases Whisper mangles and the corrector restores.
SPOKEN_KINDS = {"Customer", "Term", "Product", "Competitor", "Industry"}


def corpus_lexicon(token_lists: Iterable[list[str]], min_atoms: int = 3) -> list[str]:
    """Words the knowledge uses often (痛点, 合规, 审批...): the corrector's second source."""
    counts: Counter[str] = Counter()
    for tokens in token_lists:
        counts.update({t for t in tokens if 2 <= len(t) <= 6})
    return [word for word, n in counts.most_common() if n >= min_atoms]


def load_recognizer(
    settings: Settings, bundle: IndexBundle | None = None, *, correct: bool = True
) -> SpeechRecognizer:
    """Whisper, prompted with the graph's most-mentioned names and corrected against its
    vocabulary by sound; without a synced index, plain Whisper."""
    transcriber = load_transcriber(settings)
    screening = speech_screening(settings)
    if bundle is None and IndexBundle.exists(settings.index_path):
        bundle = IndexBundle.load(settings.index_path)
    if bundle is None or not correct:
        return SpeechRecognizer(transcriber, screening=screening)
    return graph_aware_recognizer(transcriber, bundle.graph, bundle.tokens.values(), screening)


def graph_aware_recognizer(
    transcriber: Transcriber,
    graph: GraphSnapshot,
    token_lists: Iterable[list[str]],
    screening: Screening = NO_SCREENING,
) -> SpeechRecognizer:
    """Prompt terms: the most-mentioned names. Vocabulary: every name and alias of customers,
    terms, products, competitors and industries, plus the knowledge's own domain words."""
    import jieba

    jieba.initialize()
    frequent = jieba.dt.FREQ
    spoken = [i for i, kind in graph.kinds.items() if kind in SPOKEN_KINDS]
    vocabulary = [name for i in spoken for name in (graph.names[i], *graph.aliases.get(i, []))]
    # Domain words of the knowledge, not everyday words (那些, 问题) the corrector would impose.
    vocabulary += [w for w in corpus_lexicon(token_lists) if frequent.get(w, 0) < 2000]
    # The prompt nudges every caller's transcript: only names everyone may see go into it
    # (retrieval/visibility.py); the corrector's vocabulary is filtered per caller by the API.
    public = EntityScope(graph, lambda atom: atom.get("visibility") == "public")
    ranked = sorted(
        (i for i in spoken if public.entity(i)), key=lambda i: -len(graph.mentions.get(i, []))
    )
    corrector = PinyinCorrector(
        vocabulary,
        is_common_word=lambda w: frequent.get(w, 0) > 50,
        segment=lambda text: jieba.cut(text, HMM=False),
    )
    return SpeechRecognizer(
        transcriber, corrector, [graph.names[i] for i in ranked[:60]], screening
    )


def search_service(
    settings: Settings,
    store: ServingStore,
    embedder: Embedder,
    bundle: IndexBundle | None = None,
    analyzer: QueryAnalyzer | None = None,
) -> SearchService:
    """Dense, lexical and graph retrieval over the synced index, fused (docs/retrieval.md);
    ``analyzer``: one built for the same entity layer, to reuse."""
    bundle = bundle or IndexBundle.load(settings.index_path)
    analyzer, retriever = served_retriever(bundle, embedder, analyzer=analyzer)
    polisher = None
    if settings.llm_base_url and settings.llm_model:
        polisher = OpenAICompatiblePolisher(
            settings.llm_base_url,
            settings.llm_model,
            settings.llm_api_key.get_secret_value() if settings.llm_api_key else None,
            timeout_s=settings.llm_timeout,
        )
    return SearchService(analyzer, retriever, store, polisher)
