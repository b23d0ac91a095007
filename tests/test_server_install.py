"""cnnviz.server.install(): every patch applied once per process, a patch that cannot be
applied or runs on a version it was not checked on said in one line naming it (never
silently), the pins in requirements.txt those the patches were checked on, and importing
cnnviz.ui changing nothing in Streamlit."""

from __future__ import annotations

import io
import re
import subprocess
import sys

import pytest

from cnnviz import server
from cnnviz.server import routing
from tests.conftest import ROOT


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch):
    """install() as in a new process (the patches themselves are idempotent), put back after."""
    from streamlit.web.server.starlette import starlette_app, starlette_static_routes

    for module, name in [
        (starlette_static_routes, "create_streamlit_static_handler"),
        (starlette_app, "create_streamlit_middleware"),
    ]:
        monkeypatch.setattr(module, name, getattr(module, name))
    monkeypatch.setattr(server, "_results", {})  # no outcome yet; the process's put back after
    yield


def test_every_patch_installs_quietly_on_the_checked_versions(fresh) -> None:
    out = io.StringIO()
    assert server.install(out=out) == dict.fromkeys(server.PATCHES, True)
    assert out.getvalue() == ""
    assert server.install(out=out) == dict.fromkeys(server.PATCHES, True)  # once per process


def test_with_the_class_code_the_gate_goes_outermost(fresh) -> None:
    from streamlit.web.server.starlette import starlette_app

    from cnnviz.server import access, gate, static_files

    code = access.class_code("127.0.0.1", {})
    assert server.install(code, out=io.StringIO())[server.GATE]
    stack = [m.cls for m in starlette_app.create_streamlit_middleware()]
    assert stack[:2] == [gate.Gate, static_files.FrontDoor]


def test_a_version_it_was_not_checked_on_is_one_line_per_patch(fresh) -> None:
    out = io.StringIO()
    results = server.install(out=out, version=lambda dist: "9.1.0")
    assert all(results.values())  # still applied: the shape tests are what tell
    lines = out.getvalue().splitlines()
    assert len(lines) == len(server.PATCHES)
    for name, line in zip(server.PATCHES, lines, strict=True):
        assert f"server patch {name} (cnnviz/server/{name}.py)" in line
        assert "streamlit 9.1.0, checked on 1.67" in line


def test_a_patch_that_cannot_install_says_so(fresh, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> bool:
        raise AttributeError("type object 'PagesManager' has no attribute 'x'")

    monkeypatch.setattr(routing, "install", broken)
    out = io.StringIO()
    results = server.install(out=out)
    assert results["routing"] is False
    assert [k for k, ok in results.items() if not ok] == ["routing"]
    (line,) = out.getvalue().splitlines()
    assert "server patch routing" in line and "NOT INSTALLED" in line
    assert "AttributeError" in line


def test_the_pins_are_the_versions_the_patches_were_checked_on() -> None:
    pins = dict(
        re.findall(r"^([a-z]+)==(\d+\.\d+)\.\*", (ROOT / "requirements.txt").read_text(), re.M)
    )
    checked: dict[str, set[str]] = {}
    for name in server.ALL:
        for dist, series in server.patch_module(name).CHECKED.items():
            checked.setdefault(dist, set()).add(series)
    assert {dist: {series} for dist, series in pins.items()} == checked
    assert server.version_problems(checked={d: s for d, (s,) in checked.items()}) == []


@pytest.mark.e2e  # a real process of its own
def test_importing_cnnviz_ui_changes_nothing_in_streamlit() -> None:
    """Every module of cnnviz.ui, imported in a fresh process: no patch, no thread, no
    pages-directory decision, Plotly's encoder untouched."""
    code = (
        "import importlib, pkgutil, threading, plotly.io as pio\n"
        "to_json = pio.to_json\n"
        "import cnnviz.ui\n"
        "for m in pkgutil.walk_packages(cnnviz.ui.__path__, 'cnnviz.ui.'):\n"
        "    importlib.import_module(m.name)\n"
        "from streamlit.runtime.app_session import AppSession\n"
        "from streamlit.runtime.pages_manager import PagesManager\n"
        "from streamlit import delta_generator as dg\n"
        "from streamlit.web.server.starlette import starlette_app as sa\n"
        "print(pio.to_json is to_json, hasattr(AppSession._create_scriptrunner, '__wrapped__'),"
        " PagesManager.uses_pages_directory, dg._use_warning_has_been_displayed,"
        " hasattr(sa.create_streamlit_middleware, '__wrapped__'),"
        " [t.name for t in threading.enumerate() if t.name.startswith('cnnviz')])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "True False None False False []"
