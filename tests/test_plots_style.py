"""Every figure builder in cnnviz.plots goes through the one chart style (cnnviz/plots/style.py):
tick labels 15 px in Streamlit's dark text color, which win over Streamlit's theme template
(12 px light gray); a builder's own font choices are kept."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import plotly.graph_objects as go
import pytest

import cnnviz.plots
from cnnviz import facts
from cnnviz.plots import experiments, ilsvrc, modules, style, transfer_learning


def builders() -> list[tuple[str, object]]:
    """Every public function of a cnnviz.plots module whose return annotation is go.Figure
    (found, not listed: a builder added later is checked too)."""
    found = []
    for info in pkgutil.iter_modules(cnnviz.plots.__path__):
        if info.name == "style":
            continue  # style.style restyles a figure it is given: the decorator's own work
        module = importlib.import_module(f"cnnviz.plots.{info.name}")
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if name.startswith("_") or function.__module__ != module.__name__:
                continue
            returns = inspect.signature(function, eval_str=True).return_annotation
            if returns is go.Figure:
                found.append((f"{info.name}.{name}", function))
    return found


def test_builders_are_found() -> None:
    names = {name for name, _ in builders()}
    # A few known builders in different modules: the search does find them.
    assert {
        "architecture.architecture_figure",
        "ilsvrc.ilsvrc_figure",
        "explain.overlay_figure",
    } <= names
    assert len(names) >= 30


def test_every_figure_builder_is_named_for_its_figure() -> None:
    """House style: figure builders all end in `_figure`, so that a reader of a page tells a
    chart from a helper that computes one (a grid of numbers, a list of rows) by its name."""
    unnamed = [name for name, _ in builders() if not name.endswith("_figure")]
    assert not unnamed, f"figure builders not ending in _figure: {unnamed}"


@pytest.mark.parametrize(("name", "build"), builders(), ids=[n for n, _ in builders()])
def test_every_figure_builder_is_styled(name: str, build: object) -> None:
    # Every @styled builder is the decorator's one wrapper (functools.wraps copies the
    # builder's name and annotations onto it, not its code).
    wrapper_code = style.styled(go.Figure).__code__
    assert build.__code__ is wrapper_code, f"{name} lacks @styled (cnnviz/plots/style.py)"


def _ticks(fig: go.Figure) -> list[tuple[str, float | None, str | None]]:
    return [
        (axis.plotly_name, axis.tickfont.size, axis.tickfont.color)
        for axis in (*fig.select_xaxes(), *fig.select_yaxes())
    ]


RUNS_ROTATION = [
    {"max_degrees": 0, "per_class_accuracy": {str(d): 0.9 for d in range(10)}},
    {"max_degrees": 180, "per_class_accuracy": {str(d): 0.7 for d in range(10)}},
]
HISTORY = [
    {"epoch": e, "train_accuracy": 0.5 + e / 10, "val_accuracy": 0.4 + e / 20, "train_loss": 1 / e}
    for e in (1, 2, 3)
]
CHEAP = {
    "per_class": lambda: experiments.per_class_figure(RUNS_ROTATION),
    "confusion": lambda: experiments.confusion_figure([[1, 2], [3, 4]], title="t"),
    "noise": lambda: experiments.noise_figure(
        [
            {"kind": k, "magnitude": m, "train_accuracy": 0.9, "val_accuracy": 0.8}
            for k in ("input", "hidden", "dropout")
            for m in (0.0, 0.5)
        ]
    ),
    "augment": lambda: experiments.augment_figure(
        [{"augment": False, "history": HISTORY}, {"augment": True, "history": HISTORY}]
    ),
    "degradation": lambda: experiments.degradation_figure(
        [{"kind": k, "depth": 8, "history": HISTORY} for k in ("plain", "residual")]
    ),
    "residual_block": modules.residual_block_figure,
    "class_counts": lambda: transfer_learning.class_counts_figure({"cat": 3, "dog": 5}),
    "topk": lambda: transfer_learning.topk_figure([("cat", 0.7), ("dog", 0.3)]),
    "ilsvrc": lambda: ilsvrc.ilsvrc_figure(facts.ILSVRC_WINNERS, facts.HUMAN_TOP5_ERROR),
}


@pytest.mark.parametrize("name", list(CHEAP))
def test_built_figures_have_large_dark_ticks(name: str) -> None:
    fig = CHEAP[name]()
    axes = _ticks(fig)
    assert axes
    for axis, size, color in axes:
        assert size is not None and size >= style.TICK_PX, (axis, size)
        assert color == style.TEXT, (axis, color)
    assert fig.layout.font.color == style.TEXT
    assert fig.layout.legend.font.size == style.LEGEND_PX


def test_without_styled_the_template_decides() -> None:
    """The undecorated builder leaves tick fonts to the template (Streamlit's 12 px gray, as
    tests/e2e/test_charts.py sees in a browser): the decorator is what sets them."""
    plain = transfer_learning.class_counts_figure.__wrapped__({"cat": 3, "dog": 5})
    assert {size for _, size, _ in _ticks(plain)} == {None}
    assert {size for _, size, _ in _ticks(style.style(plain))} == {style.TICK_PX}


def test_a_builders_own_font_is_kept() -> None:
    fig = style.style(go.Figure(layout={"xaxis": {"tickfont": {"size": 11, "color": "white"}}}))
    assert (fig.layout.xaxis.tickfont.size, fig.layout.xaxis.tickfont.color) == (11, "white")
    assert (fig.layout.yaxis.tickfont.size, fig.layout.yaxis.tickfont.color) == (15, style.TEXT)


def test_subplot_titles_take_the_dark_color() -> None:
    """Subplot titles are annotations with no color of their own: they take the layout's."""
    fig = CHEAP["noise"]()
    assert len(fig.layout.annotations) == 3
    assert all(a.font.color is None for a in fig.layout.annotations)
    assert fig.layout.font.color == style.TEXT
