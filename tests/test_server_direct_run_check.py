"""cnnviz/server/direct_run_check.py: Streamlit's once-per-process REPL check marked as done,
and the Streamlit source it relies on (streamlit 1.67, delta_generator.py)."""

from __future__ import annotations

import inspect

import pytest
from streamlit import delta_generator, env_util

from cnnviz.server import direct_run_check


def test_the_check_no_longer_walks_the_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(delta_generator, direct_run_check.FLAG, False)
    asked: list[bool] = []
    monkeypatch.setattr(env_util, "is_repl", lambda: asked.append(True) or False)
    delta_generator._maybe_print_use_warning()  # unpatched: Streamlit asks (the oracle)
    assert asked == [True]
    monkeypatch.setattr(delta_generator, direct_run_check.FLAG, False)
    assert direct_run_check.install()
    delta_generator._maybe_print_use_warning()
    assert asked == [True]  # not asked again


def test_the_source_it_relies_on_has_the_recorded_shape() -> None:
    source = inspect.getsource(delta_generator._maybe_print_use_warning)
    assert str(inspect.signature(delta_generator._maybe_print_use_warning)) == "() -> 'None'"
    assert "if not _use_warning_has_been_displayed:" in source
    assert "env_util.is_repl()" in source
