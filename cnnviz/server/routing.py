"""Every page URL goes through app.py's `st.navigation`, a server's very first visit included.

What it fixes: Streamlit decides once per process, from the mere existence of a `pages/`
folder next to the main script, to run a page script on its own ("pages directory" mode, the
old multipage apps) until some session has run `st.navigation`, which switches the mode off.
A student who opens /vgg first on a freshly started server would get Streamlit's automatic
sidebar and none of app.py's set-up (page config, style, the browser's job tracking). cnnviz
keeps its page scripts in `pages/` (the project's layout), so the mode is switched off before
the first session exists.

Upstream source it relies on (streamlit 1.67):
- streamlit/runtime/pages_manager.py: the class attribute `PagesManager.uses_pages_directory`
  (`bool | None`, None until decided) and `PagesManager.__init__`, which decides only while it
  is None (`if PagesManager.uses_pages_directory is None: ... = Path(...) / "pages").exists()`);
- streamlit/runtime/scriptrunner/script_runner.py: `ScriptRunner._run_script` runs
  `_mpa_v1(...)` instead of the main script while it is true;
- streamlit/commands/navigation.py: `st.navigation` sets it to False.

Applied before the server starts (the launcher), no session ever sees the mode. Applied from
app.py (a plain `streamlit run app.py`, AppTest), it is app.py that runs, and its
`st.navigation` would switch the mode off anyway.
Browser guard: tests/e2e/test_pages.py::test_deep_link_on_fresh_server
(a fresh server, a page URL first); tests/test_server_routing.py checks the source above.
"""

from __future__ import annotations

CHECKED = {"streamlit": "1.67"}


def install() -> bool:
    """Switch the pages-directory mode off for this process; False where Streamlit no longer
    has the flag (nothing is changed then)."""
    from streamlit.runtime.pages_manager import PagesManager

    if not hasattr(PagesManager, "uses_pages_directory"):
        return False
    PagesManager.uses_pages_directory = False
    return True
