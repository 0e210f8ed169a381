"""The served retriever: how the API ranks atoms over an index bundle.

One assembly for everything that must rank exactly as the server does: `api/runtime.py` builds
the search service with it, and `skg eval` (retrieval/evaluation.py) measures it.
"""

from __future__ import annotations

from typing import Literal

from retrieval.dense import DenseRetriever
from retrieval.embedding.base import Embedder
from retrieval.embedding.cached import CachedQueryEmbedder
from retrieval.graph import GraphRetriever
from retrieval.hybrid import HybridRetriever
from retrieval.index_bundle import IndexBundle
from retrieval.lexical import LexicalRetriever
from retrieval.query import QueryAnalyzer


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
