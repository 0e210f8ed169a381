"""Write the known-item set: phrases a rep types or pastes from an atom, and the atoms that
contain them (data/known_item/).

Reps often type a phrase they remember (“预测，实际从送样、小批量验证”) rather than a question.
Such questions repeat the knowledge's own words, where BM25 is strongest; the fused ranking
must not lose to it there (docs/retrieval.md). Each phrase is 10 to 20 characters cut at random
from a sentence of a random atom of data/golden/corpus.jsonl; every atom containing the phrase
is relevant. The split follows the golden set's document families (an atom's document is the
title before " · "): families judged in golden dev are dev, in golden test are test, others by
a stable hash. Deterministic: the same corpus gives the same set.

    .venv/bin/python scripts/make_known_item_set.py
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "data" / "golden"
OUT = ROOT / "data" / "known_item"
SIZE = 400
SEED = 20261201


def _qrels(path: Path) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for line in path.read_text(encoding="utf-8").splitlines()[1:]:
        query, doc, score = line.split("\t")
        out.setdefault(query, {})[doc] = int(score)
    return out


def main() -> None:
    corpus = [json.loads(line) for line in (GOLDEN / "corpus.jsonl").open(encoding="utf-8")]
    family = {a["_id"]: a["title"].split(" · ")[0] for a in corpus}
    split_of: dict[str, str] = {}
    for split in ("dev", "test"):
        for judged in _qrels(GOLDEN / "qrels" / f"{split}.tsv").values():
            for atom_id in judged:
                split_of.setdefault(family[atom_id], split)
    rng = random.Random(SEED)
    queries, qrels = [], {"dev": [], "test": []}
    for atom in rng.sample(corpus, SIZE):
        body = atom["text"].split("】", 1)[-1]
        sentences = [s for s in re.split(r"[。！？；\n]", body) if len(s) >= 12]
        if not sentences:
            continue
        sentence = rng.choice(sentences)
        start = rng.randrange(0, max(1, len(sentence) - 18))
        phrase = sentence[start : start + rng.randint(10, 20)].strip()
        if len(phrase) < 8:
            continue
        fam = family[atom["_id"]]
        digest = int(hashlib.sha1(fam.encode("utf-8")).hexdigest(), 16)
        split = split_of.get(fam) or ("dev" if digest % 2 == 0 else "test")
        qid = f"k{len(queries) + 1:03d}"
        queries.append(
            {"_id": qid, "text": phrase, "metadata": {"style": "known_item", "split": split}}
        )
        qrels[split] += [(qid, a["_id"]) for a in corpus if phrase in a["text"]]
    (OUT / "qrels").mkdir(parents=True, exist_ok=True)
    with (OUT / "queries.jsonl").open("w", encoding="utf-8") as f:
        for query in queries:
            f.write(json.dumps(query, ensure_ascii=False) + "\n")
    for split, rows in qrels.items():
        lines = ["query-id\tcorpus-id\tscore", *(f"{q}\t{d}\t1" for q, d in rows)]
        (OUT / "qrels" / f"{split}.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{len(queries)} phrases written to {OUT}")


if __name__ == "__main__":
    main()
