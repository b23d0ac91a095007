"""The session sweeper: expired sessions are shut down (not just dropped), and what a session
held in reference cycles, its per-session folder included, is freed."""

from __future__ import annotations

import importlib.util
import sys
import threading
from dataclasses import dataclass, field

from streamlit.runtime.caching.ttl_cache import TTLCache
from streamlit.runtime.memory_session_storage import MemorySessionStorage
from streamlit.runtime.session_manager import SessionInfo

from cnnviz.data import Workspace
from cnnviz.server import sweeper


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@dataclass
class FakeSession:
    id: str
    shut: list[str] = field(default_factory=list)

    def shutdown(self) -> None:
        self.shut.append(self.id)


class FakeManager:
    def __init__(self, storage: MemorySessionStorage) -> None:
        self._session_storage = storage
        self._storage_lock = threading.Lock()


def test_expired_sessions_are_shut_down_and_the_others_kept() -> None:
    clock = Clock()
    storage = MemorySessionStorage(ttl_seconds=10)
    storage._cache = TTLCache(maxsize=128, ttl=10, timer=clock)  # Streamlit's own cache
    shut: list[str] = []
    gone, kept = FakeSession("gone", shut), FakeSession("kept", shut)
    storage.save(SessionInfo(client=None, session=gone))  # type: ignore[arg-type]
    clock.now = 5.0
    storage.save(SessionInfo(client=None, session=kept))  # type: ignore[arg-type]
    clock.now = 12.0  # "gone" disconnected 12 s ago (TTL 10), "kept" 7 s ago
    assert sweeper.shut_down_expired(FakeManager(storage)) == 1
    assert shut == ["gone"]
    assert storage.get("kept") is not None and storage.get("gone") is None
    clock.now = 16.0
    assert sweeper.shut_down_expired(FakeManager(storage)) == 1 and shut == ["gone", "kept"]


def test_a_manager_without_that_storage_is_left_alone() -> None:
    assert sweeper.shut_down_expired(object()) == 0


def test_a_sweep_frees_a_session_folder_held_in_a_cycle() -> None:
    space = Workspace()
    folder = space.folder()
    assert folder.is_dir()
    state: dict[str, object] = {"workspace": space}
    state["self"] = state  # a session's objects refer to each other
    del space, state
    sweeper.sweep_once()  # no Streamlit server here: only the collector runs
    assert not folder.exists()


def test_one_sweeper_thread_per_process() -> None:
    sweeper.start()
    sweeper.start()
    names = [t.name for t in threading.enumerate()]
    assert names.count("cnnviz-session-sweeper") == 1


def test_a_second_copy_of_the_module_starts_no_second_sweeper(monkeypatch) -> None:
    # An older launcher imported cnnviz.ui (which started the sweeper), then forgot it so that
    # the first page imports it afresh: that second copy must not start another thread.
    spec = importlib.util.spec_from_file_location("sweeper_copy", sweeper.__file__)
    assert spec is not None and spec.loader is not None
    copy = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "sweeper_copy", copy)
    spec.loader.exec_module(copy)
    sweeper.start()
    copy.start()
    names = [t.name for t in threading.enumerate()]
    assert names.count("cnnviz-session-sweeper") == 1


def test_a_sweep_collects_only_when_a_session_has_gone() -> None:
    seen = sweeper._Seen()
    assert not sweeper.should_collect(0, {"a"}, seen)  # a student arrives: nothing to free
    assert not sweeper.should_collect(0, {"a", "b"}, seen)
    assert sweeper.should_collect(0, {"b"}, seen)  # "a" closed its tab
    assert not sweeper.should_collect(0, {"b"}, seen)
    assert sweeper.should_collect(1, {"b"}, seen)  # one kept for a reconnect expired
    assert sweeper.should_collect(0, None, seen)  # no server to ask: collect


def test_a_quiet_server_still_collects_now_and_then() -> None:
    seen = sweeper._Seen()
    collected = [sweeper.should_collect(0, {"a"}, seen) for _ in range(2 * sweeper.QUIET_SWEEPS)]
    assert collected.count(True) == 2
    assert collected[sweeper.QUIET_SWEEPS - 1] and collected[-1]


def test_the_internals_it_reads_have_the_recorded_shape() -> None:
    """What cnnviz/server/sweeper.py reads (streamlit 1.67): the runtime's session manager and
    event loop, the manager's storage and its lock, the storage's TTL cache and its expire().
    If one is reshaped, this fails before a class meets it."""
    import inspect

    from streamlit.runtime.runtime import Runtime
    from streamlit.runtime.websocket_session_manager import WebsocketSessionManager

    assert sweeper.readable()
    runtime = inspect.getsource(Runtime.__init__)
    assert "self._session_mgr =" in runtime and "self._async_objs" in runtime
    manager = inspect.getsource(WebsocketSessionManager.__init__)
    assert "self._session_storage = session_storage" in manager
    assert "self._storage_lock = threading.Lock()" in manager
    assert str(inspect.signature(WebsocketSessionManager.list_sessions)) == (
        "(self) -> 'list[SessionInfo]'"
    )
    assert isinstance(MemorySessionStorage()._cache, TTLCache)
    assert str(inspect.signature(TTLCache.expire)) == (
        "(self, at_time: 'float | None' = None) -> 'list[tuple[K, V]]'"
    )
