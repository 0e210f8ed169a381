"""One writer or many readers of an index folder, across processes (server workers, the CLI).

``skg serve --workers 2`` runs two processes that each refresh the index, and `skg index sync`
may run beside them; an advisory lock file next to the folder keeps a sync from overwriting
another one's staging folder or swapping the folder while a reader loads it.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def index_lock(index_dir: Path, *, exclusive: bool) -> Iterator[None]:
    path = index_dir.with_name(index_dir.name + ".lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
