"""The ``Embedder`` contract: what the index sync and the retrievers rely on.

A test class provides an ``embedder`` fixture.
"""

from __future__ import annotations

import numpy as np

QUESTIONS = ["如何向宁德时代解释热失控防护方案？", "客户嫌贵怎么办"]
PASSAGES = [
    "【宁德时代热失控防护方案】电芯间布置气凝胶隔热垫，PACK上盖设置定向泄压阀。",
    "【合同审批】海外项目的合同须经法务审批，注意出口管制与合规风险。",
]


class EmbedderContract:
    """Cases every ``Embedder`` passes."""

    def test_it_has_a_name_and_dimensions(self, embedder):
        assert isinstance(embedder.name, str) and embedder.name
        assert isinstance(embedder.dimensions, int) and embedder.dimensions > 0

    def test_vectors_are_one_row_per_text_of_its_dimensions_and_unit_length(self, embedder):
        for embed in (embedder.embed_queries, embedder.embed_passages):
            vectors = np.asarray(embed(QUESTIONS + PASSAGES))
            assert vectors.shape == (4, embedder.dimensions)
            assert np.issubdtype(vectors.dtype, np.floating)
            assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)

    def test_the_same_text_gets_the_same_vector_alone_or_in_a_batch(self, embedder):
        alone = np.asarray(embedder.embed_passages(PASSAGES[:1]))[0]
        batched = np.asarray(embedder.embed_passages(PASSAGES))[0]
        again = np.asarray(embedder.embed_passages(PASSAGES[:1]))[0]
        assert float(alone @ again) > 0.9999
        assert float(alone @ batched) > 0.999  # padding in a batch may move low bits

    def test_a_question_is_nearer_the_passage_that_answers_it(self, embedder):
        question = np.asarray(embedder.embed_queries(QUESTIONS[:1]))[0]
        passages = np.asarray(embedder.embed_passages(PASSAGES))
        scores = passages @ question
        assert scores[0] > scores[1]
