"""A fragment's timed rerun must not swallow the click before it: a race in Streamlit, closed.

A job panel is an `st.fragment(run_every=...)`; its browser asks for a fragment rerun every
second. Streamlit 1.67 (runtime/app_session.py) answers a fragment rerun by handing it to the
session's current ScriptRunner or, when that runner has already stopped, by starting a new
one at once (`AppSession._create_scriptrunner`). A runner stops right after its run, but its
messages (the run's last elements and its `script_finished`) reach the browser through
callbacks it queued on the server's event loop, and AppSession ignores every event of a
runner that is no longer current. A timer rerun handled in between (likely under load: the
event loop is late) therefore makes Streamlit drop the end of the click's run: the browser
never hears that the click's run finished (1-5 clicks in 100 with a tiny app under load).

The fix: a fragment rerun that finds a stopped runner starts its new runner from the event
loop's queue, behind the callbacks that runner queued before it stopped, so they are handled
first (the loop runs its callbacks in order, and the runner queued them before it stopped,
which is how the request saw it stopped). Nothing else changes: no extra run, no delay beyond
those callbacks. A full-app rerun is left as it is: it redraws the whole page anyway.

Upstream source it relies on (streamlit 1.67): streamlit/runtime/app_session.py,
`AppSession._create_scriptrunner(self, initial_rerun_data)` (replaced by a wrapper), and the
session's `_scriptrunner`, `_event_loop`, `_state` (`AppSessionState.SHUTDOWN_REQUESTED`) and
`has_fragment(fragment_id)`; a ScriptRunner's `request_rerun(rerun_data) -> bool`.
Upstream: the race is Streamlit's (AppSession._handle_scriptrunner_event_on_event_loop drops
the events of a runner that is not `self._scriptrunner`). tests/test_server_fragment_race.py
runs it on AppSession itself and fails when those signatures change.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from streamlit.runtime.app_session import AppSession, AppSessionState

CHECKED = {"streamlit": "1.67"}
log = logging.getLogger(__name__)
_PATCHED = "_cnnviz_waits_for_stopped_runner"


def must_wait(session: Any, rerun_data: Any) -> bool:
    """Whether a new ScriptRunner for `rerun_data` must first let the current one's queued
    events through: a fragment rerun while the session still holds a runner, which (as it
    refused the request) has stopped, its last events perhaps still waiting on the loop."""
    return bool(rerun_data.fragment_id) and session._scriptrunner is not None


def _waiting_create(original: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(original)
    def create(session: Any, rerun_data: Any) -> None:
        if not must_wait(session, rerun_data):
            original(session, rerun_data)
            return
        stale = session._scriptrunner
        session._event_loop.call_soon_threadsafe(_retry, session, rerun_data, stale)

    def _retry(session: Any, rerun_data: Any, waited_for: Any) -> None:
        if session._state is AppSessionState.SHUTDOWN_REQUESTED:  # the tab went meanwhile
            return
        if not session.has_fragment(rerun_data.fragment_id):  # a full run since dropped it
            return
        current = session._scriptrunner
        if current is None or current is waited_for:  # its events are handled now
            original(session, rerun_data)
        elif not current.request_rerun(rerun_data):  # meanwhile a newer runner came and went
            create(session, rerun_data)
        # else: a newer runner (a click's full run) took the fragment rerun in its queue

    setattr(create, _PATCHED, True)
    return create


def install() -> bool:
    """Patch AppSession once per process; False where this Streamlit has no
    `_create_scriptrunner`: nothing is patched then (`cnnviz.server.install` says so)."""
    original = getattr(AppSession, "_create_scriptrunner", None)
    if original is None:
        return False
    if getattr(original, _PATCHED, False):
        return True
    AppSession._create_scriptrunner = _waiting_create(original)  # type: ignore[method-assign]
    return True
