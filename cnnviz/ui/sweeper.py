"""Free what students leave behind: sessions that disconnected and never came back.

Streamlit keeps a disconnected session for `server.disconnectedSessionTTL` seconds in case the
tab reconnects, in a TTL cache that drops expired entries only when it is written to. An
expired session is then dropped without `AppSession.shutdown()` (its uploaded files stay in
the upload manager) and, since the session's objects refer to each other, only Python's cyclic
collector frees it, which `runner.postScriptGC = false` and an idle server rarely run. A class
that has left would keep its datasets, models and per-session folders until the next class.

Every `INTERVAL` seconds a daemon thread asks the server's event loop (where Streamlit manages
sessions) to shut the expired ones down properly, then collects cycles, so a session's memory
and its `Workspace` folder go within about TTL + INTERVAL of the tab closing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
import threading
import time
from typing import Any

INTERVAL = 30.0
log = logging.getLogger(__name__)
_started = threading.Event()


def shut_down_expired(session_manager: Any) -> int:
    """Shut down the sessions whose reconnect time ran out; how many. Runs on the event loop.

    Reads Streamlit's private session storage (the TTL cache behind MemorySessionStorage):
    where a later Streamlit stores sessions differently, nothing is shut down and only the
    collector below runs.
    """
    storage = getattr(session_manager, "_session_storage", None)
    cache = getattr(storage, "_cache", None)
    expire = getattr(cache, "expire", None)
    if expire is None:
        return 0
    lock = getattr(session_manager, "_storage_lock", None) or threading.Lock()
    with lock:
        expired = expire()
    for _, info in expired:
        try:
            info.session.shutdown()
        except Exception:  # one session's failure must not stop the sweep
            log.exception("could not shut down an expired session")
    return len(expired)


def sweep_once() -> None:
    """One sweep: expired sessions shut down on the server's event loop, then gc.collect()."""
    from streamlit import runtime

    if runtime.exists():
        rt = runtime.get_instance()
        loop = getattr(getattr(rt, "_async_objs", None), "eventloop", None)
        manager = getattr(rt, "_session_mgr", None)
        if loop is not None and manager is not None and not loop.is_closed():
            done = threading.Event()

            def on_loop() -> None:
                try:
                    shut_down_expired(manager)
                finally:
                    done.set()

            loop.call_soon_threadsafe(on_loop)
            done.wait(timeout=10)
    gc.collect()
    _trim_heap()


def _trim_heap() -> None:
    """Hand the heap's free pages back to the system (glibc keeps them for reuse otherwise, so
    the server's RSS would stay at the class's peak after everyone left)."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        if libc is not None and hasattr(libc, "malloc_trim"):
            libc.malloc_trim(0)
    except OSError:  # not glibc: nothing to trim
        pass


def _loop() -> None:
    while True:
        time.sleep(INTERVAL)
        try:
            sweep_once()
        except Exception:  # the sweeper must outlive any one failure
            log.exception("session sweep failed")


def start() -> None:
    """Start the process's sweeper thread (once; later calls do nothing)."""
    if _started.is_set():
        return
    _started.set()
    threading.Thread(target=_loop, name="cnnviz-session-sweeper", daemon=True).start()
