"""The served retriever: how the API ranks atoms over an index bundle.

One assembly for everything that must rank exactly as the server does: `api/assembly.py` builds
the search service with it, and `skg eval` (retrieval/evaluation/benchmark.py) measures it.
"""

from __future__ import annotations

from typing import Literal

from retrieval.embedding.base import Embedder
from retrieval.embedding.cached import CachedQueryEmbedder
from retrieval.index.bundle import IndexBundle
from retrieval.query import QueryAnalyzer
from retrieval.retrievers.dense import DenseRetriever
from retrieval.retrievers.graph import GraphRetriever
from retrieval.retrievers.hybrid import HybridRetriever
from retrieval.retrievers.lexical import LexicalRetriever


def served_retriever(
    bundle: IndexBundle,
    embedder: Embedder,
    *,
    method: Literal["learned", "weighted"] = "learned",
    analyzer: QueryAnalyzer | None = None,
) -> tuple[QueryAnalyzer, HybridRetriever]:
    """Dense, lexical and graph retrieval over an index bundle, fused, with feedback.

    Question vectors go through a ``CachedQueryEmbedder``, shared by the dense retriever and the
    feedback memory; an embedder that already is one (evaluation primes it with every question
    in batches) is used as it is. An ``analyzer`` built for the same entity layer is reused
    (a change-feed update that touched only atoms).
    """
    cached = (
        embedder if isinstance(embedder, CachedQueryEmbedder) else CachedQueryEmbedder(embedder)
    )
    retriever = HybridRetriever(
        {
            "dense": DenseRetriever(cached, bundle.dense),
            "lexical": LexicalRetriever(bundle.lexical),
            "graph": GraphRetriever(bundle.graph),
        },
        bundle.graph,
        method=method,
        atom_tokens=bundle.tokens,
        atom_texts=bundle.texts,
        idf=bundle.lexical.idf,
        memory=bundle.memory,
        query_vector=cached.embed_query,
    )
    if analyzer is None:
        analyzer = QueryAnalyzer(bundle.graph.dictionary(), bundle.graph.names)
    return analyzer, retriever
