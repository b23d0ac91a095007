"""The session sweeper: expired sessions are shut down (not just dropped), and what a session
held in reference cycles, its per-session folder included, is freed."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from streamlit.runtime.caching.ttl_cache import TTLCache
from streamlit.runtime.memory_session_storage import MemorySessionStorage
from streamlit.runtime.session_manager import SessionInfo

from cnnviz.data import Workspace
from cnnviz.ui import sweeper


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
