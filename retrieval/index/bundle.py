"""The search indexes as one folder: FAISS (dense), BM25 (lexical), the graph snapshot, and a
manifest of what they hold. Written to a fresh folder and swapped in, so a reader never sees a
half-written index."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import chain
from pathlib import Path

import numpy as np

from kg.errors import IndexNotReadyError
from retrieval.feedback import FeedbackMemory
from retrieval.index.change_feed import FeedState
from retrieval.index.lock import index_lock
from retrieval.retrievers.dense import FaissIndex
from retrieval.retrievers.graph import GraphSnapshot
from retrieval.retrievers.lexical import LexicalIndex

MANIFEST = "manifest.json"
TOKENS = "tokens.npz"  # every atom's lexical tokens as codes into TOKEN_VOCAB
TOKEN_VOCAB = "tokens.vocab.json"  # {"atoms": [...], "vocab": [...]}
LEGACY_TOKENS = "tokens.json"  # {atom id: [token, ...]}, before 2026-12-02
TEXTS = "texts.json"
FEED = "feed.json"


@dataclass
class IndexBundle:
    dense: FaissIndex
    lexical: LexicalIndex
    graph: GraphSnapshot
    versions: dict[str, int]  # atom id -> version indexed
    tokens: dict[str, list[str]]  # atom id -> lexical tokens (reused for unchanged atoms)
    texts: dict[str, list[str]] = field(default_factory=dict)  # atom id -> [title, text] indexed
    memory: FeedbackMemory = field(default_factory=FeedbackMemory)  # feedback on answers
    fingerprint: str = ""  # the graph's fingerprint when the bundle was built (index_sync)
    # Where it stands in the graph's change feed (retrieval/index/update.py); None for a bundle
    # of a store without one, which only full syncs maintain.
    feed: FeedState | None = None

    def manifest(self) -> dict[str, object]:
        return {
            "model": self.dense.model,
            "dimensions": self.dense.dimensions,
            "dense_index": type(self.dense.index).__name__,
            "count": len(self.dense.ids),
            "lexical_count": len(self.lexical.ids),
            "entities": len(self.graph.names),
            "written_at": datetime.now(UTC).isoformat(),
            "fingerprint": self.fingerprint,
            "atoms": self.versions,
        }

    def save(self, directory: Path) -> None:
        staging = directory.with_name(directory.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        self.dense.save(staging / "dense")
        self.lexical.save(staging / "lexical")
        self.graph.save(staging)
        save_tokens(staging, self.tokens)
        (staging / TEXTS).write_text(json.dumps(self.texts, ensure_ascii=False))
        self.memory.save(staging)
        if self.feed is not None:
            (staging / FEED).write_text(json.dumps(self.feed.to_json(), ensure_ascii=False))
        (staging / MANIFEST).write_text(json.dumps(self.manifest(), ensure_ascii=False))
        old = directory.with_name(directory.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if directory.exists():
            directory.rename(old)
        staging.rename(directory)
        shutil.rmtree(old, ignore_errors=True)

    @classmethod
    def load(cls, directory: Path, *, lock: bool = True) -> IndexBundle:
        """Read the bundle; ``lock`` waits while another process is writing it."""
        if lock:
            with index_lock(directory, exclusive=False):
                return cls.load(directory, lock=False)
        try:
            manifest = json.loads((directory / MANIFEST).read_text())
            tokens = load_tokens(directory)
        except (FileNotFoundError, json.JSONDecodeError, ValueError, KeyError, IndexError) as exc:
            raise IndexNotReadyError(
                f"No usable search index in {directory} ({exc}). Run `skg index sync` "
                "(or `skg ingest`) first."
            ) from exc
        return cls(
            dense=FaissIndex.load(directory / "dense"),
            lexical=LexicalIndex.load(directory / "lexical"),
            graph=GraphSnapshot.load(directory),
            versions={k: int(v) for k, v in manifest["atoms"].items()},
            tokens=tokens,
            texts=json.loads((directory / TEXTS).read_text())
            if (directory / TEXTS).exists()
            else {},
            memory=FeedbackMemory.load(directory),
            fingerprint=str(manifest.get("fingerprint", "")),
            feed=FeedState.from_json(json.loads((directory / FEED).read_text()))
            if (directory / FEED).exists()
            else None,
        )

    @classmethod
    def exists(cls, directory: Path) -> bool:
        return (directory / MANIFEST).exists()


def save_tokens(directory: Path, tokens: dict[str, list[str]]) -> None:
    """Tokens as codes into one vocabulary: as JSON lists, a million atoms' tokens took 7 GB
    of Python strings once loaded (docs/benchmarks.md, Scale)."""
    atoms = list(tokens)
    flat = list(chain.from_iterable(tokens[a] for a in atoms))
    vocab = list(dict.fromkeys(flat))
    code = {t: i for i, t in enumerate(vocab)}
    np.savez(
        directory / TOKENS,
        codes=np.fromiter(map(code.__getitem__, flat), dtype=np.uint32, count=len(flat)),
        lengths=np.fromiter((len(tokens[a]) for a in atoms), dtype=np.int64, count=len(atoms)),
    )
    (directory / TOKEN_VOCAB).write_text(
        json.dumps({"atoms": atoms, "vocab": vocab}, ensure_ascii=False)
    )


def load_tokens(directory: Path) -> dict[str, list[str]]:
    """The tokens by atom id; each distinct token is one string object, shared by every atom
    that has it."""
    if not (directory / TOKENS).exists() and (directory / LEGACY_TOKENS).exists():
        legacy: dict[str, list[str]] = json.loads((directory / LEGACY_TOKENS).read_text())
        return legacy
    names = json.loads((directory / TOKEN_VOCAB).read_text())
    with np.load(directory / TOKENS) as arrays:
        codes, lengths = arrays["codes"], arrays["lengths"]
    atoms: list[str] = names["atoms"]
    if len(atoms) != len(lengths) or int(lengths.sum()) != len(codes):
        raise ValueError(f"{TOKENS} does not match {TOKEN_VOCAB}")
    flat = np.asarray(names["vocab"], dtype=object)[codes].tolist()
    ends = np.cumsum(lengths).tolist()
    return {a: flat[end - n : end] for a, n, end in zip(atoms, lengths.tolist(), ends, strict=True)}
