"""The search indexes as one folder: FAISS (dense), BM25 (lexical), the graph snapshot, and a
manifest of what they hold. Written to a fresh folder and swapped in, so a reader never sees a
half-written index."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from kg.errors import IndexNotReadyError
from retrieval.feedback import FeedbackMemory
from retrieval.index.change_feed import FeedState
from retrieval.index.lock import index_lock
from retrieval.retrievers.dense import FaissIndex
from retrieval.retrievers.graph import GraphSnapshot
from retrieval.retrievers.lexical import LexicalIndex

MANIFEST = "manifest.json"
TOKENS = "tokens.json"
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
        (staging / TOKENS).write_text(json.dumps(self.tokens, ensure_ascii=False))
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
            tokens = json.loads((directory / TOKENS).read_text())
        except (FileNotFoundError, json.JSONDecodeError) as exc:
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
