"""Which browsers are still here: the Streamlit sessions (tabs) each job owner has open.

A job belongs to a browser (its owner key, from a cookie), not to one tab: a refresh or a
second tab is the same owner. An owner has gone when none of its sessions is left on the
server, that is when every tab it had was closed and the server's reconnect window
(`server.disconnectedSessionTTL`) ran out for each; then its jobs are stopped, dropped from
the queue and freed (`JobRunner.abandon`), so nothing runs for a student who has left.

    OWNERS.seen(owner, session_id)           # every script run of every page
    for owner in OWNERS.gone(live_session_ids):   # the server's sweep, every 30 s
        runner.abandon(owner)

Owners never seen here (the CLI, tests without a server) are never abandoned.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable


class Owners:
    """Owner key -> the ids of the sessions it was seen in; safe from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sessions: dict[str, set[str]] = {}

    def seen(self, owner: str, session_id: str) -> None:
        """`session_id` (a tab) belongs to `owner`; cheap enough for every script run."""
        with self._lock:
            sessions = self._sessions.get(owner)
            if sessions is None:
                self._sessions[owner] = {session_id}
            elif session_id not in sessions:
                sessions.add(session_id)

    def gone(self, live: Iterable[str]) -> list[str]:
        """The owners none of whose sessions is in `live` (the server's sessions, connected
        or kept for a reconnect); they are forgotten. Sessions that ended are dropped from the
        owners that are still here."""
        live = set(live)
        with self._lock:
            gone = []
            for owner, sessions in list(self._sessions.items()):
                sessions &= live
                if not sessions:
                    gone.append(owner)
                    del self._sessions[owner]
            return gone

    def __len__(self) -> int:
        with self._lock:
            return len(self._sessions)


OWNERS = Owners()
