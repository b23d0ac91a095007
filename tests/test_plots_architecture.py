"""The network drawings and the home chart: readable labels, the lecture's names, every unit.

Oracles: the lecture's layer names (lecture-facts.md), the models' own module paths and
ResNet's downsample modules (torchvision), and the winners' pages in cnnviz.facts.
"""

from __future__ import annotations

import itertools

import pytest

from cnnviz import facts
from cnnviz.analysis import analyze
from cnnviz.plots import architecture as plots
from cnnviz.plots.ilsvrc import ilsvrc_figure


def names(fig) -> list[str]:
    """The labels under the boxes (bottom row annotations, in x order)."""
    below = [a for a in fig.layout.annotations if a.yanchor == "top"]
    return [a.text for a in sorted(below, key=lambda a: a.x)]


def test_alexnet_lecture_draws_norm1_and_norm2_only_with_lrn():
    with_lrn = names(plots.architecture_figure(analyze("alexnet_lecture", lrn=True)))
    assert with_lrn == [
        "INPUT", "CONV1", "POOL1", "NORM1", "CONV2", "POOL2", "NORM2",
        "CONV3", "CONV4", "CONV5", "POOL3", "FC6", "FC7", "FC8",
    ]  # fmt: skip
    without = names(plots.architecture_figure(analyze("alexnet_lecture", lrn=False)))
    assert "NORM1" not in without and "NORM2" not in without
    assert len(without) == len(with_lrn) - 2


def test_torchvision_models_get_the_lecture_names_and_keep_their_paths_on_hover():
    vgg = analyze("vgg16")
    units = plots.drawn_units(vgg)
    labels = [u.label for u in units]
    assert labels[:3] == ["CONV1-1", "CONV1-2", "POOL1"]
    assert labels[-3:] == ["FC6", "FC7", "FC8"]  # classifier.0/3/6 as the lecture names them
    assert labels.count("POOL5") == 1
    paths = [u.path for u in units]
    assert paths == [u.name for u in vgg.diagram_layers()]
    hover = plots.architecture_figure(vgg).data[-1].hovertext
    assert "features.0" in hover[1] and "CONV1-1" in hover[1]
    assert "classifier.6" in hover[-1] and "FC8" in hover[-1]
    alexnet = [u.label for u in plots.drawn_units(analyze("alexnet"))]
    assert alexnet[:2] == ["CONV1", "POOL1"] and alexnet[-3:] == ["FC6", "FC7", "FC8"]


def test_googlenet_modules_and_stem_convolutions():
    units = plots.drawn_units(analyze("googlenet"))
    modules = [u.label for u in units if u.type == "Inception"]
    assert modules[0] == "inception<br>(3a)" and modules[-1] == "inception<br>(5b)"
    assert len(modules) == 9
    stem = [u for u in units if u.type == "BasicConv2d"]
    assert [u.label for u in stem] == ["CONV1", "CONV2", "CONV3"]
    assert {u.kind for u in stem} == {"conv"}  # drawn in the convolution color


@pytest.mark.parametrize("depth", [18, 50, 152])
def test_resnet_is_drawn_with_one_skip_connection_per_block(depth):
    a = analyze(f"resnet{depth}")
    blocks = [b for b in a.blocks if b.type in ("BasicBlock", "Bottleneck")]
    downsample = {b.name.removesuffix(".downsample") for b in a.blocks if "downsample" in b.name}
    units = plots.drawn_units(a)
    kinds = {u.path: u.shortcut for u in units if u.shortcut}
    assert set(kinds) == {b.name for b in blocks}
    assert {p for p, k in kinds.items() if k == "projection"} == downsample
    fig = plots.architecture_figure(a)
    arcs = {t.name.split(" ")[0]: t for t in fig.data if "shortcut" in (t.name or "")}
    drawn = sum(sum(1 for y in arcs[k].y if y is None) for k in arcs)
    assert drawn == len(blocks)
    # One label per stage, as the ResNet paper names them.
    stage_labels = [n for n in names(fig) if n.endswith("_x")]
    assert stage_labels == ["conv2_x", "conv3_x", "conv4_x", "conv5_x"]


@pytest.mark.parametrize(
    ("name", "options"),
    [("alexnet_lecture", {"lrn": True}), ("vgg16", {}), ("googlenet", {}), ("resnet152", {})],
)
def test_labels_are_big_dark_horizontal_and_do_not_overlap(name, options):
    fig = plots.architecture_figure(analyze(name, **options))
    labels = list(fig.layout.annotations)
    assert labels
    for label in labels:
        assert label.font.size >= 14
        assert label.textangle in (None, 0)
        r, g, b = (int(label.font.color[i : i + 2], 16) for i in (1, 3, 5))
        assert max(r, g, b) <= 0x55  # near-black on white
    # No two labels at the same height overlap at the narrowest plot width.
    x0, x1 = fig.layout.xaxis.range
    px = plots.NARROWEST_PLOT_PX / (x1 - x0)
    rows: dict[tuple[str, float], list[tuple[float, float]]] = {}
    for label in labels:
        half = plots._text_px(label.text, label.font.size) / 2
        rows.setdefault((label.yanchor, label.yshift), []).append(
            (label.x * px - half, label.x * px + half)
        )
    for spans in rows.values():
        spans.sort()
        for (_, right), (left, _) in itertools.pairwise(spans):
            assert right <= left


def test_label_rows_never_put_overlapping_labels_on_one_row():
    spans = [(0.0, 1, "CONV1-1"), (0.5, 1, "CONV1-2"), (1.0, 1, "POOL1"), (10.0, 1, "FC6")]
    rows = plots.label_rows(spans, px_per_unit=20, font_px=15)
    assert rows[:3] == [0, 1, 2]  # 0.5 units apart is 10 px: three rows
    assert rows[3] == 0  # far to the right: back on the first row


def test_home_chart_bars_and_depth_markers_both_open_the_winners_page():
    fig = ilsvrc_figure(facts.ILSVRC_WINNERS, facts.HUMAN_TOP5_ERROR)
    bars, depth = fig.data[0], fig.data[1]
    assert list(bars.customdata) == [w.page or "" for w in facts.ILSVRC_WINNERS]
    with_depth = [w for w in facts.ILSVRC_WINNERS if w.depth is not None]
    assert list(depth.customdata) == [w.page or "" for w in with_depth]
    # Depth sits in its own panel, so its labels cannot run into the error labels.
    assert bars.yaxis != depth.yaxis
    assert fig.layout.xaxis2.tickangle == 0
    assert max(w.depth for w in with_depth) < fig.layout.yaxis2.range[1] * 0.85
