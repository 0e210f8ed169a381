"""Near-duplicate atoms across documents: character shingles and Jaccard similarity.

Two versions of the same case study, or a talk track pasted into several decks, should be
linked (``DUPLICATE_OF``) rather than answer the same question twice. Only atoms from different
documents are compared, and only the changed atoms of a run against everything.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Sequence

SHINGLE = 3
MAX_POSTING = 300  # shingles shared by more atoms than this carry no signal
_NOISE = re.compile(r"[\s\W_]+", re.UNICODE)


def shingles(text: str) -> frozenset[str]:
    body = text.split("】", 1)[1] if text.startswith("【") and "】" in text else text
    body = _NOISE.sub("", body.lower())
    return frozenset(body[i : i + SHINGLE] for i in range(max(1, len(body) - SHINGLE + 1)))


def near_duplicates(
    changed: Sequence[tuple[str, str, str]],
    everything: Sequence[tuple[str, str, str]],
    threshold: float = 0.8,
) -> list[tuple[str, str, float]]:
    """Pairs (duplicate, original, similarity) with Jaccard >= threshold across documents.

    Args:
        changed: (atom id, document id, text) of atoms written in this run.
        everything: the same for all atoms in the graph (``changed`` included).
    The original is the atom with the smaller id, so a pair is reported once and stably.
    """
    sets = {atom_id: (doc, shingles(text)) for atom_id, doc, text in everything}
    for atom_id, doc, text in changed:
        sets[atom_id] = (doc, shingles(text))
    postings: dict[str, list[str]] = defaultdict(list)
    for atom_id, (_, grams) in sets.items():
        for gram in grams:
            postings[gram].append(atom_id)
    pairs: dict[tuple[str, str], float] = {}
    for atom_id, _, _ in changed:
        doc, grams = sets[atom_id]
        overlap: Counter[str] = Counter()
        for gram in grams:
            posting = postings[gram]
            if len(posting) <= MAX_POSTING:
                overlap.update(posting)
        for other, shared in overlap.items():
            other_doc, other_grams = sets[other]
            if other == atom_id or other_doc == doc:
                continue
            if shared < threshold * min(len(grams), len(other_grams)):
                continue
            similarity = len(grams & other_grams) / len(grams | other_grams)
            if similarity >= threshold:
                duplicate, original = max(atom_id, other), min(atom_id, other)
                pairs[(duplicate, original)] = round(similarity, 4)
    return [(d, o, s) for (d, o), s in sorted(pairs.items())]
