"""Assembly: build the heavy objects from settings, once per process."""

from __future__ import annotations

import logging

from api.settings import Settings
from kg.errors import ConfigError
from kg.neo4j_store import Neo4jGraphStore, connect
from kg.server import LocalNeo4jServer, ServerConfig
from retrieval.dense import DenseRetriever
from retrieval.embedding.base import Embedder
from retrieval.embedding.sentence_transformer import SentenceTransformerEmbedder
from retrieval.graph import GraphRetriever
from retrieval.hybrid import HybridRetriever
from retrieval.index_bundle import IndexBundle
from retrieval.lexical import LexicalRetriever
from retrieval.polish import OpenAICompatiblePolisher
from retrieval.query import QueryAnalyzer
from retrieval.service import SearchService
from speech.base import Transcriber

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


def start_local_neo4j(settings: Settings) -> bool:
    """Resolve and start the managed server unless NEO4J_URI points elsewhere."""
    if not settings.managed_neo4j:
        logger.info("using the Neo4j at %s; starting nothing", settings.neo4j_uri)
        return False
    server = local_server(settings)
    server.resolve()
    return server.start(settings.password())


def open_store(settings: Settings) -> Neo4jGraphStore:
    """Connect to Neo4j and make sure the schema is in place (idempotent)."""
    driver = connect(settings.bolt_uri, settings.neo4j_user, settings.password())
    store = Neo4jGraphStore(driver, settings.neo4j_database)
    store.ensure_schema(settings.embedding_dimensions)
    return store


def load_embedder(settings: Settings) -> Embedder:
    embedder = SentenceTransformerEmbedder(settings.embedding_model_path)
    if embedder.dimensions != settings.embedding_dimensions:
        raise ConfigError(
            f"The embedding model {settings.embedding_model_path} makes {embedder.dimensions}-"
            f"dimensional vectors; set SKG_EMBEDDING_DIMENSIONS={embedder.dimensions}."
        )
    return embedder


def load_transcriber(settings: Settings) -> Transcriber:
    path = settings.whisper_model_path
    if settings.whisper_backend == "openai-whisper":
        from speech.openai_whisper_backend import OpenAIWhisperTranscriber

        return OpenAIWhisperTranscriber(path)
    from speech.faster_whisper_backend import FasterWhisperTranscriber

    return FasterWhisperTranscriber(path)


def search_service(
    settings: Settings,
    store: Neo4jGraphStore,
    embedder: Embedder,
    bundle: IndexBundle | None = None,
) -> SearchService:
    """Dense, lexical and graph retrieval over the synced index, fused (docs/retrieval.md)."""
    bundle = bundle or IndexBundle.load(settings.index_path)
    dictionary = bundle.graph.dictionary()
    retriever = HybridRetriever(
        {
            "dense": DenseRetriever(embedder, bundle.dense),
            "lexical": LexicalRetriever(bundle.lexical),
            "graph": GraphRetriever(bundle.graph),
        },
        bundle.graph,
    )
    polisher = None
    if settings.llm_base_url and settings.llm_model:
        polisher = OpenAICompatiblePolisher(
            settings.llm_base_url,
            settings.llm_model,
            settings.llm_api_key.get_secret_value() if settings.llm_api_key else None,
            timeout_s=settings.llm_timeout,
        )
    return SearchService(QueryAnalyzer(dictionary), retriever, store, polisher)
