"""What the running service holds: the graph store, the models, the API keys, and the search
and speech objects built over the current index, which can be swapped while serving."""

from __future__ import annotations

import logging
import threading
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
from retrieval.index.sync import SyncReport, sync_index
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

    @classmethod
    def start(cls, settings: Settings) -> Services:
        """Connect, load the models, and load the index when there is one."""
        quiet_jieba()
        store = assembly.open_store(settings)
        # Concurrent requests' questions are embedded together (docs/benchmarks.md, Encoders).
        embedder = BatchingEmbedder(assembly.load_embedder(settings))
        services = cls(settings, store, embedder, assembly.load_transcriber(settings))
        if IndexBundle.exists(settings.index_path):
            services.reload()
        else:
            logger.warning(
                "no search index at %s yet: run `skg index sync` or ingest", settings.index_path
            )
        return services

    def sync_and_reload(self) -> SyncReport:
        """Bring the index in step with the graph, flag stale atoms, and swap the index in.
        One at a time (ingest jobs and the refresher both call it)."""
        with self._sync_lock:
            report = sync_index(self.store, self.embedder, self.settings.index_path)
            self.store.flag_stale(self.settings.stale_after_days)
            self.store.caption_atoms()  # Browser captions follow curators' type/title edits
            self.reload()
            return report

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
        with self._reload_lock:
            bundle = IndexBundle.load(self.settings.index_path)
            search = assembly.search_service(self.settings, self.store, self.embedder, bundle)
            recognizer = assembly.graph_aware_recognizer(
                self.transcriber,
                bundle.graph,
                bundle.tokens.values(),
                assembly.speech_screening(self.settings),
            )
            self._current = Searchable(bundle, search, recognizer)
        metrics.INDEX_RELOADS.inc()
        logger.info("search index loaded: %d atoms", len(bundle.versions))

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
        self.store.close()
