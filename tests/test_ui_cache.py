"""cnnviz.ui.cache: a cached figure is what a freshly built one is, built once per input."""

from __future__ import annotations

import json

import plotly.graph_objects as go
import plotly.io as pio
import pytest
import streamlit as st
import streamlit.logger

from cnnviz.analysis import analyze
from cnnviz.plots import architecture as plots
from cnnviz.receptive_field import receptive_fields_of
from cnnviz.ui import cache

streamlit.logger.set_log_level("error")  # no ScriptRunContext outside `streamlit run`


@pytest.fixture(autouse=True)
def _empty_caches():
    st.cache_resource.clear()
    yield
    st.cache_resource.clear()


def _json(fig: go.Figure) -> dict:
    """What st.plotly_chart sends: plotly.io.to_json of the figure's dictionary."""
    return json.loads(pio.to_json(fig.to_dict(), validate=False))


def test_cached_figure_serializes_like_the_figure() -> None:
    a = analyze("vgg16")
    built = plots.architecture_figure(a)
    assert _json(cache.figure(plots.architecture_figure, a)) == _json(built)


def test_figure_built_once_per_input() -> None:
    builds: list[tuple] = []

    def drawing(analysis, label="x") -> go.Figure:
        builds.append((analysis.model, analysis.input, label))
        return go.Figure(go.Bar(x=[label], y=[analysis.total_params]))

    first = cache.figure(drawing, analyze("vgg16"))
    assert cache.figure(drawing, analyze("vgg16")) is first
    other = cache.figure(drawing, analyze("vgg16", (3, 225, 225)))
    labeled = cache.figure(drawing, analyze("vgg16"), label="y")
    assert builds == [("vgg16", (3, 224, 224), "x"), ("vgg16", (3, 225, 225), "x"),
                      ("vgg16", (3, 224, 224), "y")]  # fmt: skip
    assert _json(other)["data"][0]["y"] == [analyze("vgg16", (3, 225, 225)).total_params]
    assert _json(labeled)["data"][0]["x"] == ["y"]


def test_analysis_key_separates_what_changes_the_analysis() -> None:
    keys = {
        cache.analysis_key(analyze("vgg16")),
        cache.analysis_key(analyze("vgg16", (3, 225, 225))),
        cache.analysis_key(analyze("vgg19")),
        cache.analysis_key(analyze("resnet_basic_block", (64, 56, 56), planes=64)),
        cache.analysis_key(analyze("resnet_basic_block", (64, 56, 56), planes=32)),
    }
    assert len(keys) == 5


def test_field_key_is_every_value_of_the_field() -> None:
    fields = list(receptive_fields_of("resnet18").values())
    keys = {cache.field_key(f) for f in fields}
    assert len(keys) == len(set(fields))  # as many distinct keys as distinct fields


def test_table_built_once() -> None:
    from cnnviz.ui.architecture import layer_table

    a = analyze("alexnet_lecture")
    table = cache.table(layer_table, a, False)
    assert cache.table(layer_table, a, False) is table
    assert table.equals(layer_table(a, False))
    assert len(cache.table(layer_table, a, True)) > len(table)


def test_a_cached_figure_is_plotlys_own_figure_shared_as_is() -> None:
    a = analyze("resnet18")
    shared = cache.figure(plots.architecture_figure, a)
    assert type(shared) is go.Figure  # no subclass, nothing of Plotly's replaced
    assert cache.figure(plots.architecture_figure, a) is shared
    assert pio.to_json(shared.to_dict(), validate=False) == pio.to_json(
        plots.architecture_figure(a).to_dict(), validate=False
    )


def test_rows_become_the_arrow_table_streamlit_would_make() -> None:
    from streamlit import dataframe_util

    rows = [{"model": "resnet18", "present": True, "size": 44.7}, {"model": "vgg16",
            "present": False, "size": 528.0}]  # fmt: skip
    assert dataframe_util.convert_arrow_table_to_arrow_bytes(
        cache.to_arrow(rows)
    ) == dataframe_util.convert_pandas_df_to_arrow_bytes(
        dataframe_util.convert_anything_to_pandas_df(rows)
    )


def test_arrow_table_built_once_and_sent_as_streamlit_would() -> None:
    from streamlit import dataframe_util

    from cnnviz.ui.architecture import layer_table

    a = analyze("alexnet_lecture")
    arrow = cache.arrow_table(layer_table, a, False)
    assert cache.arrow_table(layer_table, a, False) is arrow
    # st.dataframe writes a table out as is; given the DataFrame, it converts it first
    assert dataframe_util.convert_arrow_table_to_arrow_bytes(
        arrow
    ) == dataframe_util.convert_pandas_df_to_arrow_bytes(layer_table(a, False))


def test_two_sessions_get_the_same_chart_and_table_as_built_afresh(open_page) -> None:
    from streamlit import dataframe_util

    from cnnviz.ui.architecture import layer_table

    a = analyze("vgg16_lecture", (3, 224, 224), batch_norm=False)
    expected_table = dataframe_util.convert_pandas_df_to_arrow_bytes(layer_table(a, False))
    expected_drawing = pio.to_json(plots.architecture_figure(a).to_dict(), validate=False)
    for _ in range(2):  # two sessions: the second one from the shared caches
        at = open_page("pages/vgg.py")
        specs = [chart.proto.spec for chart in at.get("plotly_chart")]
        assert expected_drawing in specs
        at.session_state["vgg_view"] = "Layer table"  # only the open tab is filled
        at.run()
        assert at.dataframe[0].proto.arrow_data.data == expected_table


def test_figure_keys_tell_inputs_apart_and_fall_back_for_the_rest() -> None:
    from cnnviz import facts

    builds: list[int] = []

    def drawing(things, mark=None) -> go.Figure:
        builds.append(len(things))
        return go.Figure(go.Bar(y=[len(things)]))

    fields = list(receptive_fields_of("resnet18").values())
    first = cache.figure(drawing, fields, "conv1")
    assert cache.figure(drawing, list(receptive_fields_of("resnet18").values()), "conv1") is first
    assert cache.figure(drawing, fields, "layer1") is not first
    assert cache.figure(drawing, fields[:-1], "conv1") is not first
    winners = cache.figure(drawing, facts.ILSVRC_WINNERS)  # frozen dataclasses
    assert cache.figure(drawing, tuple(facts.ILSVRC_WINNERS)) is winners
    unkeyed = cache.figure(drawing, {1, 2, 3})  # a set: Streamlit's own hashing
    assert cache.figure(drawing, {1, 2, 3}) is unkeyed
    assert builds == [len(fields), len(fields), len(fields) - 1, 9, 3]
    assert repr(cache.key(1)) != repr(cache.key(1.0))
    assert repr(cache.key((True,))) != repr(cache.key((1,)))


def test_a_datasets_figure_is_shared_by_equal_content_only() -> None:
    """Two sessions holding the same bytes (the built-in digits, one upload twice) share its
    figure; a dataset differing in one pixel or one label gets its own."""
    import torch

    from cnnviz.data import ImageDataset
    from cnnviz.ui.transfer_learning.data import samples_figure

    def dataset(pixel: int = 0, label: int = 1) -> ImageDataset:
        images = torch.zeros(4, 3, 8, 8, dtype=torch.uint8)
        images[0, 0, 0, 0] = pixel
        return ImageDataset(images, torch.tensor([0, 0, 1, label]), ["a", "b"])

    first = cache.figure(samples_figure, dataset())
    assert cache.figure(samples_figure, dataset()) is first  # another object, the same bytes
    assert cache.figure(samples_figure, dataset(pixel=1)) is not first
    assert cache.figure(samples_figure, dataset(label=0)) is not first
    assert _json(first) == _json(samples_figure(dataset()))
