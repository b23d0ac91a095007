"""What a page needs to know of its script run that Streamlit has no public API for: the
session's id (which tabs a browser has open, `cnnviz.jobs.owners`), the page being run (a
link's settings apply once per page visit, `cnnviz.ui.presets`) and whether a widget's value
was just set through `st.session_state` (so a preset does not override it). It reads, it
replaces nothing; pages call these, never `streamlit.runtime` themselves.

Upstream source it relies on (streamlit 1.67):
- streamlit/runtime/scriptrunner_utils/script_run_context.py: `get_script_run_ctx()` (exported
  by streamlit/runtime/scriptrunner/__init__.py) and `ScriptRunContext.session_id`,
  `ScriptRunContext.page_script_hash` (a property);
- streamlit/runtime/state/__init__.py: `get_session_state()`, a `SafeSessionState` whose
  `is_new_state_value(user_key)` says whether the key was set this run.
tests/test_server_script_run.py fails when those change shape.
"""

from __future__ import annotations

from streamlit.runtime.scriptrunner import get_script_run_ctx
from streamlit.runtime.state import get_session_state

CHECKED = {"streamlit": "1.67"}


def session_id() -> str | None:
    """The id of the session (browser tab) whose script is running; None outside a run."""
    ctx = get_script_run_ctx()
    return ctx.session_id if ctx is not None else None


def page_script_hash() -> str:
    """Which page this run is running ("" outside a run)."""
    ctx = get_script_run_ctx()
    return ctx.page_script_hash if ctx is not None else ""


def is_new_state_value(key: str) -> bool:
    """Whether `st.session_state[key]` was set by the script since the widget last ran."""
    return get_session_state().is_new_state_value(key)


def install() -> bool:
    """Nothing to patch: whether what these read is still there."""
    from streamlit.runtime.scriptrunner_utils.script_run_context import ScriptRunContext
    from streamlit.runtime.state.safe_session_state import SafeSessionState

    fields = getattr(ScriptRunContext, "__dataclass_fields__", {})
    return (
        "session_id" in fields
        and isinstance(getattr(ScriptRunContext, "page_script_hash", None), property)
        and callable(getattr(SafeSessionState, "is_new_state_value", None))
    )
