"""Figures and tables built once per server and shared by every session (a class of 40 asks
for the same few figures).

Building a Plotly figure costs far more than drawing it: every `add_annotation` validates the
whole layout again, so an architecture drawing took about 0.4 CPU-s, on every rerun of every
session. `figure(build, *args)` builds it once per distinct input (an `Analysis` is keyed by
its model, input and options, which determine it) and hands out a `FrozenFigure`, whose
dictionary is computed once too, so `st.plotly_chart` only has to encode plain JSON.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any, cast

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
import pyarrow as pa
import streamlit as st
from streamlit import dataframe_util

from cnnviz import analysis, receptive_field
from cnnviz.analysis import Analysis
from cnnviz.receptive_field import ReceptiveField

MAX_FIGURES = 512  # every input a class tries; an architecture figure is ~100 kB


def analysis_key(a: Analysis) -> tuple:
    """What determines an analysis (hashing its layers instead would cost more than a key)."""
    return (a.model, a.input, a.options)


def field_key(f: ReceptiveField) -> tuple:
    """Its values, read directly (Streamlit's generic hashing walks dataclasses slowly)."""
    return (f.name, f.type, f.rf, f.jump, f.start, f.output_shape, f.is_global, f.exact, f.leaf)


_HASH = {Analysis: analysis_key, ReceptiveField: field_key}


class Snapshot(dict):
    """A frozen figure's dictionary, with the JSON `st.plotly_chart` makes of it encoded once
    (`plotly.io.to_json(snapshot, validate=False)`, see `_to_json`)."""

    json: str


class FrozenFigure(go.Figure):
    """A figure whose `to_dict` is computed once: what `st.plotly_chart` serializes.

    Shared between sessions, so it must not be changed after `freeze` (changes would not
    show anyway: `to_dict` returns the snapshot).
    """

    _snapshot: Snapshot

    def to_dict(self) -> Snapshot:
        return self._snapshot


def freeze(fig: go.Figure) -> FrozenFigure:
    """`fig` itself, made a FrozenFigure whose snapshot is plain JSON types (numpy arrays
    encoded once). In place: `FrozenFigure(fig)` would copy and validate every property again,
    which cost as much as building it (a figure of 12,544 markers: 0.1 s more)."""
    snapshot = Snapshot(json.loads(_plain_to_json(fig, validate=False)))
    snapshot.json = _plain_to_json(snapshot, validate=False)  # exactly what Streamlit sends
    fig.__class__ = FrozenFigure  # a subclass adding no state: the figure's own data stays
    frozen = cast(FrozenFigure, fig)
    frozen._snapshot = snapshot
    return frozen


# `st.plotly_chart` encodes the figure's dictionary with `plotly.io.to_json(d, validate=False)`
# on every run of every session: Plotly's encoder writes, parses and writes the JSON again,
# about 1-3 ms for an architecture drawing, a third of a warm page's script run. A frozen
# figure's snapshot carries that JSON already: `plotly.io.to_json` hands it out for a Snapshot
# and encodes anything else as before.
_plain_to_json = getattr(pio.to_json, "plain", pio.to_json)


def _to_json(
    fig: Any,
    validate: bool = True,
    pretty: bool = False,
    remove_uids: bool = True,
    engine: str | None = None,
) -> str:
    if type(fig) is Snapshot and not validate and not pretty and remove_uids and engine is None:
        return fig.json
    return _plain_to_json(fig, validate, pretty, remove_uids, engine)


_to_json.plain = _plain_to_json  # type: ignore[attr-defined]  # a second import: not wrapped twice
pio.to_json = _to_json


# The library's own caches (functools.lru_cache) do not make concurrent callers wait: 20
# students changing the same input at once would build the same model 20 times. Streamlit's
# caches compute a missing value once and make the others wait for it.
@st.cache_resource(max_entries=256, show_spinner=False)
def analyze(name: str, input_size: tuple[int, int, int] | None = None, **options: Any) -> Analysis:
    """`cnnviz.analysis.analyze`, computed once however many sessions ask at once."""
    return analysis.analyze(name, input_size, **options)


@st.cache_resource(max_entries=128, show_spinner=False)
def receptive_fields_of(name: str, input_size: tuple[int, int, int]) -> dict[str, ReceptiveField]:
    """`cnnviz.receptive_field.receptive_fields_of`, computed once however many sessions ask at
    once (read only)."""
    return receptive_field.receptive_fields_of(name, input_size)


class _NoKey(TypeError):
    """A value `key` cannot read: Streamlit's own hashing takes it."""


def key(value: Any) -> Any:
    """Plain values (numbers, strings, tuples of them) standing for `value`, for a cache key:
    an Analysis or ReceptiveField by its `_HASH` key, containers and frozen dataclasses by
    their items. Streamlit's generic hashing walks every object it meets (the receptive-field
    page's 67 fields: 8 ms a run); `repr` of this is one call in C."""
    if value is None or isinstance(value, (bool, int, float, str, bytes)):
        return value
    by = _HASH.get(type(value))
    if by is not None:
        return (type(value).__name__, by(value))
    if isinstance(value, (tuple, list)):
        return (type(value).__name__, tuple(key(v) for v in value))
    if isinstance(value, dict):
        return ("dict", tuple((key(k), key(v)) for k, v in value.items()))
    params = getattr(value, "__dataclass_params__", None)
    if params is not None and params.frozen:
        fields = dataclasses.fields(value)
        return (type(value).__qualname__, tuple(key(getattr(value, f.name)) for f in fields))
    raise _NoKey(type(value).__name__)


@st.cache_resource(max_entries=MAX_FIGURES, show_spinner=False, hash_funcs=_HASH)
def _figure(name: str, args: tuple, kwargs: tuple, _build: Callable[..., go.Figure]):
    return freeze(_build(*args, **dict(kwargs)))


@st.cache_resource(max_entries=MAX_FIGURES, show_spinner=False)
def _figure_by_key(
    name: str, inputs: str, _args: tuple, _kwargs: tuple, _build: Callable[..., go.Figure]
):
    return freeze(_build(*_args, **dict(_kwargs)))


def figure(build: Callable[..., go.Figure], *args: Any, **kwargs: Any) -> FrozenFigure:
    """`build(*args, **kwargs)`, built once per server for these arguments."""
    name = f"{build.__module__}.{build.__qualname__}"
    items = tuple(sorted(kwargs.items()))
    try:
        inputs = repr(key((args, items)))
    except _NoKey:
        return _figure(name, args, items, build)
    return _figure_by_key(name, inputs, args, items, build)


@st.cache_resource(max_entries=MAX_FIGURES, show_spinner=False, hash_funcs=_HASH)
def _table(name: str, args: tuple, _build: Callable[..., pd.DataFrame]) -> pd.DataFrame:
    return _build(*args)


def table(build: Callable[..., pd.DataFrame], *args: Any) -> pd.DataFrame:
    """`build(*args)`, built once per server for these arguments (do not modify it)."""
    return _table(f"{build.__module__}.{build.__qualname__}", args, build)


def to_arrow(data: Any) -> pa.Table:
    """The Arrow table `st.dataframe(data)` makes of `data` (a DataFrame, a list of rows) on
    every run: given the table instead, it only writes it out, to the same bytes."""
    frame = dataframe_util.convert_anything_to_pandas_df(data, ensure_copy=False)
    return dataframe_util.convert_pandas_df_to_arrow_table(frame)


@st.cache_resource(max_entries=MAX_FIGURES, show_spinner=False, hash_funcs=_HASH)
def _arrow(name: str, args: tuple, _build: Callable[..., pd.DataFrame]) -> pa.Table:
    return to_arrow(_table(name, args, _build))


def arrow_table(build: Callable[..., pd.DataFrame], *args: Any) -> pa.Table:
    """`to_arrow(table(build, *args))`, once per server for these arguments: for
    `st.dataframe`, whose conversion of a DataFrame to Arrow was most of a hidden layer
    table's cost, on every run."""
    return _arrow(f"{build.__module__}.{build.__qualname__}", args, build)
