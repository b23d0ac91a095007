"""cnnviz/server/routing.py: Streamlit's pages-directory mode off before the first session, and
the Streamlit source it relies on (streamlit 1.67). The browser guard is
tests/e2e/test_pages.py::test_deep_link_on_fresh_server."""

from __future__ import annotations

import inspect

import pytest
from streamlit.commands import navigation
from streamlit.runtime import pages_manager
from streamlit.runtime.pages_manager import PagesManager
from streamlit.runtime.scriptrunner import script_runner

from cnnviz.server import routing
from tests.conftest import ROOT


def test_the_mode_decided_once_stays_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(PagesManager, "uses_pages_directory", None)
    assert (ROOT / "pages").is_dir()  # without the patch, Streamlit would pick the old mode
    assert routing.install()
    PagesManager(str(ROOT / "app.py"))  # the first session's manager: decides nothing now
    assert PagesManager.uses_pages_directory is False


def test_without_it_streamlit_would_run_a_page_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """The oracle: Streamlit's own decision for this layout, unpatched."""
    monkeypatch.setattr(PagesManager, "uses_pages_directory", None)
    PagesManager(str(ROOT / "app.py"))
    assert PagesManager.uses_pages_directory is True


def test_the_source_it_relies_on_has_the_recorded_shape() -> None:
    assert "if PagesManager.uses_pages_directory is None:" in inspect.getsource(
        pages_manager.PagesManager.__init__
    )
    assert "if PagesManager.uses_pages_directory:" in inspect.getsource(
        script_runner.ScriptRunner._run_script
    )
    assert "PagesManager.uses_pages_directory = False" in inspect.getsource(navigation)
