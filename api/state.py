"""What the running service holds: the graph store, the models, the API keys, and the search
and speech objects built over the current index, which can be swapped while serving."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from api import assembly, metrics
from api.context import quiet_jieba
from api.keys import ApiKeys
from api.settings import Settings
from kg.errors import IndexNotReadyError
from kg.service_store import AppStore
from retrieval.embedding.base import Embedder
from retrieval.embedding.batching import BatchingEmbedder
from retrieval.index.bundle import IndexBundle
from retrieval.index.lock import index_lock
from retrieval.index.sync import SyncReport, sync_index
from retrieval.index.update import update_index
from retrieval.served import freeze_heap
from retrieval.service import SearchService
from speech.base import Transcriber
from speech.recognizer import SpeechRecognizer

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Searchable:
    """One consistent generation of the index and what is built on it."""

    bundle: IndexBundle
    search: SearchService
    recognizer: SpeechRecognizer


class Services:
    def __init__(
        self,
        settings: Settings,
        store: AppStore,
        embedder: Embedder,
        transcriber: Transcriber,
    ) -> None:
        self.settings = settings
        self.store = store
        self.embedder = embedder
        self.transcriber = transcriber
        self.keys = ApiKeys(store, settings.auth_cache_seconds)
        self._current: Searchable | None = None
        self._reload_lock = threading.Lock()
        self._sync_lock = threading.Lock()
        # Syncs requested and completed (sync_after_writes): callers share one sync.
        self._syncs = threading.Condition()
        self._requested = self._completed = 0
        self._syncing = False
        self._unsaved = False  # a change-feed generation not yet written to disk
        self._chore_times: dict[str, float] = {}  # chore -> when it last fell due (monotonic)
        self._chore_lock = threading.Lock()

    def due(self, chore: str, every_s: float) -> bool:
        """True at most once per ``every_s`` seconds for ``chore`` (the first call is due),
        however many requests ask at once."""
        now = time.monotonic()
        with self._chore_lock:
            last = self._chore_times.get(chore)
            if last is not None and now - last < every_s:
                return False
            self._chore_times[chore] = now
            return True

    @classmethod
    def start(cls, settings: Settings) -> Services:
        """Connect, load the models, and load the index when there is one."""
        quiet_jieba()
        store = assembly.open_store(settings)
        # Concurrent requests' questions are embedded together (docs/benchmarks.md, Encoders).
        embedder = BatchingEmbedder(assembly.load_embedder(settings))
        services = cls(settings, store, embedder, assembly.load_transcriber(settings))
        if IndexBundle.exists(settings.index_path):
            try:
                services.reload()
            except IndexNotReadyError as exc:  # e.g. an earlier version's files
                logger.warning("the search index is rebuilt after the start: %s", exc)
        else:
            logger.warning(
                "no search index at %s yet: run `skg index sync` or ingest", settings.index_path
            )
        return services

    def sync_and_reload(self, *, audit: bool = False, full: bool = False) -> SyncReport:
        """Bring the index in step with the graph and swap it in. One at a time (ingest jobs
        and the refresher both call it).

        With an index loaded, only what the change feed shows changed is read and applied
        (``retrieval/index/update.py``), in memory, and the new generation is written to disk
        later (``index_save_seconds``). An ``audit`` compares every atom instead (the
        periodic safety net) and also flags stale atoms and refreshes Browser captions; a
        ``full`` sync (or one without an index, or after an encoder change) rebuilds the index
        from the graph on disk and loads it.
        """
        with self._sync_lock:
            started = time.perf_counter()
            current = self._current
            update = (
                None
                if full or current is None
                else update_index(self.store, self.embedder, current.bundle, audit=audit)
            )
            if update is None:
                kind = "full"
                if self._unsaved and current is not None:
                    # A full sync starts from the folder: first bring it up to memory's state.
                    self._write(current.bundle)
                    self._unsaved = False
                report = sync_index(self.store, self.embedder, self.settings.index_path)
                self._chores()
                self.reload()
            else:
                kind = "audit" if audit else "feed"
                bundle, report = update
                if audit:
                    self._chores()
                assert current is not None
                if _same_search(bundle, current.bundle):
                    self._current = Searchable(bundle, current.search, current.recognizer)
                else:
                    self._swap(bundle, current)
                    self._unsaved = True
            metrics.INDEX_UPDATE.labels(kind).observe(time.perf_counter() - started)
            metrics.INDEX_SYNCED_AT.set(time.time())
            return report

    def _chores(self) -> None:
        """Whole-graph upkeep that full syncs and audits do, not change-feed updates."""
        self.store.flag_stale(self.settings.stale_after_days)
        self.store.caption_atoms()  # Browser captions follow curators' type/title edits

    def save_index(self) -> bool:
        """Write the generation in memory to disk when a change-feed update changed it since
        the last write; True when it wrote."""
        with self._sync_lock:
            if not self._unsaved or self._current is None:
                return False
            bundle = self._current.bundle
            self._unsaved = False
        self._write(bundle)
        return True

    def _write(self, bundle: IndexBundle) -> None:
        with index_lock(self.settings.index_path, exclusive=True):
            bundle.save(self.settings.index_path)
        logger.info("search index written to %s", self.settings.index_path)

    def sync_after_writes(self) -> None:
        """Return once a sync that started after this call has completed. Callers arriving
        while one runs wait for it, then share the next one: ten ingest jobs finishing
        together cost two syncs, not ten."""
        with self._syncs:
            self._requested += 1
            ticket = self._requested
            while self._completed < ticket and self._syncing:
                self._syncs.wait()
            if self._completed >= ticket:
                return
            self._syncing = True
            covers = self._requested
        synced = False
        try:
            self.sync_and_reload()
            synced = True
        finally:
            with self._syncs:
                self._syncing = False
                if synced:  # after a failure, a waiting caller runs the next attempt
                    self._completed = max(self._completed, covers)
                self._syncs.notify_all()

    def reload(self) -> None:
        """Load the index from disk and swap it in; requests in flight finish on the old one."""
        self._swap(IndexBundle.load(self.settings.index_path), None)
        self._unsaved = False

    def _swap(self, bundle: IndexBundle, previous: Searchable | None) -> None:
        """Swap in a new generation; requests in flight finish on the old one. What depends
        only on the entity layer (the question analyzer, the speech recognizer) is kept
        when the layer is the same."""
        with self._reload_lock:
            same_layer = previous is not None and previous.bundle.graph.names is bundle.graph.names
            search = assembly.search_service(
                self.settings,
                self.store,
                self.embedder,
                bundle,
                analyzer=previous.search.analyzer if same_layer and previous else None,
            )
            recognizer = (
                previous.recognizer
                if same_layer and previous
                else assembly.graph_aware_recognizer(
                    self.transcriber,
                    bundle.graph,
                    bundle.tokens.values(),
                    assembly.speech_screening(self.settings),
                )
            )
            self._current = Searchable(bundle, search, recognizer)
            freeze_heap()
        metrics.INDEX_RELOADS.inc()
        logger.info("search index swapped in: %d atoms", len(bundle.versions))

    @property
    def current(self) -> Searchable:
        if self._current is None:
            raise IndexNotReadyError(
                "知识索引尚未建立：请先导入文档 (no search index yet: ingest documents or run "
                "`skg index sync`)"
            )
        return self._current

    @property
    def ready(self) -> bool:
        return self._current is not None

    def close(self) -> None:
        self.save_index()
        self.store.close()


def _same_search(a: IndexBundle, b: IndexBundle) -> bool:
    """Whether two generations search alike (an update that moved only the feed's token)."""
    pairs = ((a.dense, b.dense), (a.lexical, b.lexical), (a.graph, b.graph), (a.memory, b.memory))
    return all(x is y for x, y in pairs)
