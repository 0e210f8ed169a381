"""The served retriever: how the API ranks atoms over an index bundle.

One assembly for everything that must rank exactly as the server does: `api/assembly.py` builds
the search service with it, and `skg eval` (retrieval/evaluation/benchmark.py) measures it.
"""

from __future__ import annotations

import gc
from typing import Literal

from retrieval.crosslingual import load_glossary
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
        vectors=bundle.dense.vectors,
    )
    # The ranker's second stage reads candidates' vectors by atom id in every search: the map
    # from id to FAISS row is built now (0.4 s at a million atoms), not in the first search.
    bundle.dense.vectors([])
    if analyzer is None:
        analyzer = QueryAnalyzer(
            bundle.graph.dictionary(),
            bundle.graph.names,
            glossary=load_glossary(),
            idf=bundle.lexical.idf,
        ).warm()
    else:
        analyzer = analyzer.with_vocabulary(bundle.lexical.idf)
    return analyzer, retriever


def freeze_heap() -> None:
    """Put every object alive now out of the cyclic garbage collector's reach (``gc.freeze``),
    after a generation is swapped in.

    An index generation is millions of long-lived containers (at 300k atoms 650k lists and
    dicts besides the strings); each collection of the oldest generation walked them all, which
    made a graph walk cost 108 ms instead of 5 ms. A dropped generation is freed by reference
    counting alone: nothing it holds is in a reference cycle (tests/unit/test_served.py).
    """
    gc.freeze()
