"""The architecture pages' tabs (cnnviz.ui.architecture.show_architecture): only the open tab
is filled, and opening another shows what it held before, computed from the model."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from cnnviz import facts


def chart_keys(at: AppTest) -> list[str]:
    """The widget keys of the page's charts (an element's id ends with its key)."""
    keys = ("lenet_draw", "lenet_share", "lenet_per_layer")
    return [k for c in at.get("plotly_chart") for k in keys if c.proto.id.endswith(k)]


def open_tab(at: AppTest, label: str) -> None:
    at.session_state["lenet_view"] = label
    at.run()
    assert not at.exception, [e.value for e in at.exception]


def test_only_the_open_tab_is_filled_and_each_shows_its_content(open_page) -> None:
    at = open_page("pages/lenet.py")
    assert chart_keys(at) == ["lenet_draw"]
    assert not at.dataframe

    open_tab(at, "Where are the parameters and MACs?")
    assert chart_keys(at) == ["lenet_share", "lenet_per_layer"]
    assert not at.dataframe

    open_tab(at, "Layer table")
    assert chart_keys(at) == []
    table = at.dataframe[0].value
    # The lecture's number: LeNet-5 (modern) has 61,706 parameters, all in its conv and FC rows.
    assert list(table["layer"]) == ["c1", "s2", "c3", "s4", "c5", "f6", "output"]
    assert table["params"].sum() == facts.LENET5_MODERN_PARAMS

    open_tab(at, "Architecture")
    assert chart_keys(at) == ["lenet_draw"]
    assert not at.dataframe
