"""Free what students leave behind: sessions that disconnected and never came back.

Streamlit keeps a disconnected session for `server.disconnectedSessionTTL` seconds in case the
tab reconnects, in a TTL cache that drops expired entries only when it is written to. An
expired session is then dropped without `AppSession.shutdown()` (its uploaded files stay in
the upload manager) and, since the session's objects refer to each other, only Python's cyclic
collector frees it, which `runner.postScriptGC = false` and an idle server rarely run. A class
that has left would keep its datasets, models and per-session folders until the next class.

Every `INTERVAL` seconds a daemon thread asks the server's event loop (where Streamlit manages
sessions) to shut the expired ones down properly, then collects cycles, so a session's memory
and its `Workspace` folder go within about TTL + INTERVAL of the tab closing. A browser none of
whose tabs is left (`cnnviz.jobs.owners`) has gone: its jobs are stopped or dropped from the
queue and freed in the same sweep, so nothing runs for a student who has left.

A full collection with torch and the class's figures in memory walks every object the server
holds, so it runs only when a session has gone since the last sweep (or every `QUIET_SWEEPS`
sweeps): run on every sweep while a class is in the room, it took a visible share of the
server's CPU from the pages.

Upstream source it relies on (streamlit 1.67; it reads, it replaces nothing):
- streamlit/runtime/runtime.py: `Runtime._session_mgr` and `Runtime._async_objs.eventloop`;
- streamlit/runtime/websocket_session_manager.py: `WebsocketSessionManager._session_storage`,
  `_storage_lock` and `list_sessions()`;
- streamlit/runtime/memory_session_storage.py: `MemorySessionStorage._cache`, a
  `streamlit/runtime/caching/ttl_cache.py: TTLCache` whose `expire()` returns the expired
  `(key, SessionInfo)` pairs.
Upstream: Streamlit drops an expired disconnected session without `AppSession.shutdown()`.
tests/test_server_sweeper.py fails when those attributes change. `install()` (from
`cnnviz.server.install`) starts the thread.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

INTERVAL = float(os.environ.get("CNNVIZ_SWEEP_SECONDS", 30.0))  # shorter in the browser tests
CHECKED = {"streamlit": "1.67"}
QUIET_SWEEPS = 20  # a collection at least this often (10 min), whatever the sessions did
THREAD_NAME = "cnnviz-session-sweeper"
log = logging.getLogger(__name__)
_start_lock = threading.Lock()


@dataclass
class _Seen:
    """What the last sweep saw: the session ids, and the sweeps since the last collection."""

    sessions: set[str] = field(default_factory=set)
    quiet: int = 0


_seen = _Seen()


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


def session_ids(session_manager: Any) -> set[str]:
    """Every session the server holds, connected or kept for a reconnect."""
    list_sessions = getattr(session_manager, "list_sessions", None)
    if list_sessions is None:
        return set()
    return {info.session.id for info in list_sessions()}


def sweep_once() -> bool:
    """One sweep: expired sessions shut down on the server's event loop, then gc.collect() if
    a session has gone since the last sweep (or without a server). Whether it collected."""
    from streamlit import runtime

    found: dict[str, Any] = {}
    ids = None  # without a server (tests, the CLI) there is nothing to compare: collect
    if runtime.exists():
        rt = runtime.get_instance()
        loop = getattr(getattr(rt, "_async_objs", None), "eventloop", None)
        manager = getattr(rt, "_session_mgr", None)
        if loop is not None and manager is not None and not loop.is_closed():
            done = threading.Event()

            def on_loop() -> None:
                try:
                    found["expired"] = shut_down_expired(manager)
                    found["ids"] = session_ids(manager)
                finally:
                    done.set()

            loop.call_soon_threadsafe(on_loop)
            done.wait(timeout=10)
            ids = found.get("ids")
    abandoned = abandon_gone(ids)
    if not should_collect(found.get("expired", 0) + abandoned, ids):
        return False
    gc.collect()
    _trim_heap()
    return True


def abandon_gone(ids: set[str] | None) -> int:
    """Stop and free the jobs of every browser none of whose sessions is in `ids` (None: no
    server to ask, nothing is abandoned); how many jobs."""
    if ids is None:
        return 0
    from cnnviz.jobs import default_runner
    from cnnviz.jobs.owners import OWNERS

    runner = default_runner()
    return sum(len(runner.abandon(owner)) for owner in OWNERS.gone(ids))


def should_collect(expired: int, ids: set[str] | None, seen: _Seen = _seen) -> bool:
    """Whether this sweep collects: a session expired or went away since the last sweep (new
    ones arriving leave nothing to free), no server to ask (`ids` None), or `QUIET_SWEEPS`
    sweeps without one. Remembers `ids` in `seen`."""
    gone = ids is None or expired > 0 or bool(seen.sessions - ids)
    if ids is not None:
        seen.sessions = ids
    seen.quiet += 1
    if gone or seen.quiet >= QUIET_SWEEPS:
        seen.quiet = 0
        return True
    return False


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


def readable() -> bool:
    """Whether this Streamlit still stores sessions where `shut_down_expired` reads them."""
    import inspect

    from streamlit.runtime.memory_session_storage import MemorySessionStorage
    from streamlit.runtime.runtime import Runtime

    storage = MemorySessionStorage()
    runtime = inspect.getsource(Runtime.__init__)
    return (
        callable(getattr(getattr(storage, "_cache", None), "expire", None))
        and "self._session_mgr =" in runtime
        and "self._async_objs" in runtime
    )


def start() -> None:
    """Start the process's sweeper thread (once; later calls do nothing, even from a second
    copy of this module: the thread is found by its name)."""
    with _start_lock:
        if any(t.name == THREAD_NAME for t in threading.enumerate()):
            return
        threading.Thread(target=_loop, name=THREAD_NAME, daemon=True).start()


def install() -> bool:
    """Start the sweeper; False where Streamlit's session storage changed shape (the thread
    still starts: the collection and the jobs of browsers that left need no private read)."""
    start()
    return readable()
