"""cnnviz/server/script_run.py: a script run's session id, page and new state values, read
the same as Streamlit's own objects say (AppTest runs a real script run), and the Streamlit
source it relies on (streamlit 1.67)."""

from __future__ import annotations

import inspect

from streamlit.runtime.scriptrunner import get_script_run_ctx
from streamlit.runtime.scriptrunner_utils.script_run_context import ScriptRunContext
from streamlit.runtime.state import get_session_state
from streamlit.runtime.state.safe_session_state import SafeSessionState
from streamlit.testing.v1 import AppTest

from cnnviz.server import script_run


def _script() -> None:
    import streamlit as st
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    from cnnviz.server import script_run

    ctx = get_script_run_ctx()
    st.write(f"id {script_run.session_id() == ctx.session_id} {bool(ctx.session_id)}")
    st.write(f"page {script_run.page_script_hash() == ctx.page_script_hash}")
    if "n" not in st.session_state:
        st.session_state["n"] = 1
    st.write(f"new {script_run.is_new_state_value('n')}")
    st.number_input("n", key="n")


def test_it_reads_what_streamlit_holds_in_a_run() -> None:
    at = AppTest.from_function(_script).run()
    texts = [m.value for m in at.markdown]
    assert texts[:2] == ["id True True", "page True"]
    assert texts[2] == "new True"  # set by the script before its widget ran
    at.run()
    assert [m.value for m in at.markdown][2] == "new False"


def test_outside_a_run_it_says_so() -> None:
    assert script_run.session_id() is None and script_run.page_script_hash() == ""


def test_the_source_it_relies_on_has_the_recorded_shape() -> None:
    assert script_run.install()
    assert str(inspect.signature(get_script_run_ctx)) == (
        "(suppress_warning: 'bool' = False) -> 'ScriptRunContext | None'"
    )
    fields = ScriptRunContext.__dataclass_fields__
    assert fields["session_id"].type == "str"
    page = ScriptRunContext.page_script_hash
    assert isinstance(page, property)
    assert "return self.pages_manager.current_page_script_hash" in inspect.getsource(page.fget)
    assert str(inspect.signature(get_session_state)) == "() -> 'SafeSessionState'"
    assert str(inspect.signature(SafeSessionState.is_new_state_value)) == (
        "(self, user_key: 'str') -> 'bool'"
    )
