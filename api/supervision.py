"""A serve worker lives only as long as the process that started it.

``skg serve --workers N`` runs uvicorn's supervisor with N worker processes. If the supervisor
is killed (``kill -9``, an OOM kill), the workers would keep serving on the port and a new
``skg serve`` could not bind it. A worker therefore asks Linux to send it SIGTERM when its
parent dies (``PR_SET_PDEATHSIG``), and a watchdog thread checks the parent once a second
where that is not available. A single-process server (``--workers 1``, tests) has no
supervisor and is left alone.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import signal
import threading

logger = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1
CHECK_EVERY_S = 1.0
GRACE_S = 20.0


def exit_with_parent() -> bool:
    """In a worker started by a supervisor, end when the supervisor ends; True if armed."""
    parent = multiprocessing.parent_process()
    if parent is None or parent.pid is None:
        return False
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:  # not Linux: the watchdog alone
        pass
    parent_pid = parent.pid

    def watch() -> None:
        while True:
            if os.getppid() != parent_pid:
                logger.warning("the serve supervisor (pid %d) is gone; stopping", parent_pid)
                os.kill(os.getpid(), signal.SIGTERM)
                # A graceful stop waits for requests in flight; it must not hold the port.
                threading.Event().wait(GRACE_S)
                os._exit(1)
            threading.Event().wait(CHECK_EVERY_S)

    if os.getppid() != parent_pid:  # it died before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)
    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
    return True
