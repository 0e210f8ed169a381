"""Evaluation: BEIR data, the served ranking measured beside its retrievers, ranking metrics,
and the effect of feedback."""
