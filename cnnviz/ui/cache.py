"""Figures and tables built once per server and shared by every session (a class of 40 asks
for the same few figures).

Building a Plotly figure costs far more than drawing it: every `add_annotation` validates the whole
layout again, so an architecture drawing was the most of a page view's server CPU, on every rerun of
every session. `figure(build, *args)` builds it once per distinct input (an `Analysis` is keyed by
its model, input and options, which determine it) with `st.cache_resource`, and every session draws
that one figure (read only). What `st.plotly_chart` still does on each run, the figure's dictionary
and its JSON, is small against that (bench/figure_send.py measures it): not worth the tricks that
once kept them (a figure's class swapped, Plotly's encoder replaced).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import pyarrow as pa
import streamlit as st

from cnnviz import analysis, receptive_field
from cnnviz.analysis import Analysis
from cnnviz.data import ImageDataset
from cnnviz.receptive_field import ReceptiveField

MAX_FIGURES = 512  # every input a class tries; an architecture figure is ~100 kB


def analysis_key(a: Analysis) -> tuple:
    """What determines an analysis (hashing its layers instead would cost more than a key)."""
    return (a.model, a.input, a.options)


def field_key(f: ReceptiveField) -> tuple:
    """Its values, read directly (Streamlit's generic hashing walks dataclasses slowly)."""
    return (f.name, f.type, f.rf, f.jump, f.start, f.output_shape, f.is_global, f.exact, f.leaf)


def dataset_key(d: ImageDataset) -> str:
    """Its content (pixels, labels, classes, duplicate groups): two sessions share a figure of
    a dataset only when they hold the same bytes (the built-in digits, the same upload)."""
    return d.content_hash


_HASH = {Analysis: analysis_key, ReceptiveField: field_key, ImageDataset: dataset_key}


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
    page's 67 fields, on every run); `repr` of this is one call in C."""
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
def _figure(name: str, args: tuple, kwargs: tuple, _build: Callable[..., go.Figure]) -> go.Figure:
    return _build(*args, **dict(kwargs))


@st.cache_resource(max_entries=MAX_FIGURES, show_spinner=False)
def _figure_by_key(
    name: str, inputs: str, _args: tuple, _kwargs: tuple, _build: Callable[..., go.Figure]
) -> go.Figure:
    return _build(*_args, **dict(_kwargs))


def figure(build: Callable[..., go.Figure], *args: Any, **kwargs: Any) -> go.Figure:
    """`build(*args, **kwargs)`, built once per server for these arguments: shared by every
    session, so do not change it (draw it as it is)."""
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


def to_arrow(data: pd.DataFrame | list[dict[str, Any]]) -> pa.Table:
    """The Arrow table `st.dataframe(data)` makes of `data` (a DataFrame, a list of rows) on
    every run: given the table instead, it only writes it out, to the same bytes. (pandas
    and pyarrow's own conversion, as Streamlit's is for columns of one type each.)"""
    frame = data if isinstance(data, pd.DataFrame) else pd.DataFrame(data)
    return pa.Table.from_pandas(frame)


@st.cache_resource(max_entries=MAX_FIGURES, show_spinner=False, hash_funcs=_HASH)
def _arrow(name: str, args: tuple, _build: Callable[..., pd.DataFrame]) -> pa.Table:
    return to_arrow(_table(name, args, _build))


def arrow_table(build: Callable[..., pd.DataFrame], *args: Any) -> pa.Table:
    """`to_arrow(table(build, *args))`, once per server for these arguments: for
    `st.dataframe`, whose conversion of a DataFrame to Arrow was most of a hidden layer
    table's cost, on every run."""
    return _arrow(f"{build.__module__}.{build.__qualname__}", args, build)
