"""The transfer-learning figures against the data they draw."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cnnviz.plots import transfer_learning as plots


def test_class_counts_bars_are_the_counts() -> None:
    fig = plots.class_counts_figure({"cat": 3, "dog": 5, "émeu": 2})
    (bar,) = fig.data
    assert list(bar.x) == ["cat", "dog", "émeu"] and list(bar.y) == [3, 5, 2]


def test_sample_mosaic_rows_hold_their_class() -> None:
    # Every image is filled with its own index, so each tile says which image it shows.
    n, side = 12, 4
    images = torch.arange(n, dtype=torch.uint8).view(n, 1, 1, 1).expand(n, 3, side, side)
    labels = torch.tensor([0, 1, 2] * 4)
    mosaic, chosen = plots.sample_mosaic(images.contiguous(), labels, 3, per_class=3, seed=1)
    assert mosaic.shape == (3 * 6 - 2, 3 * 6 - 2, 3)
    for row, picked in enumerate(chosen):
        assert len(picked) == 3 and all(labels[i] == row for i in picked)
        for col, index in enumerate(picked):
            tile = mosaic[row * 6 : row * 6 + side, col * 6 : col * 6 + side]
            assert (tile == index).all()
    assert (mosaic[side : side + 2] == 255).all()  # the gap between rows stays white
    again, _ = plots.sample_mosaic(images.contiguous(), labels, 3, per_class=3, seed=1)
    assert np.array_equal(mosaic, again)  # seeded


def test_sample_grid_names_every_row() -> None:
    images = torch.zeros(6, 3, 8, 8, dtype=torch.uint8)
    fig = plots.sample_grid_figure(images, torch.tensor([0, 0, 1, 1, 2, 2]), ["a", "b", "c"])
    assert list(fig.layout.yaxis.ticktext) == ["a", "b", "c"]
    assert np.asarray(fig.data[0].z).shape[:2] == (3 * 10 - 2, 8 * 10 - 2)


@pytest.mark.parametrize(
    ("strategy", "last", "expected"),
    [
        ("linear", 3, [False] * 5),
        ("last", 2, [False, False, False, True, True]),
        ("last", 9, [True] * 5),
        ("full", 1, [True] * 5),
    ],
)
def test_trained_blocks(strategy: str, last: int, expected: list[bool]) -> None:
    assert plots.trained_blocks(5, strategy, last) == expected


def _labels(fig) -> list[str]:
    return [a.text for a in fig.layout.annotations]


def test_freeze_figure_brackets_follow_the_strategy() -> None:
    blocks = ["stem", "layer1", "layer2", "layer3", "layer4"]
    fig = plots.freeze_figure(blocks, plots.trained_blocks(5, "last", 2), "resnet18")
    texts = _labels(fig)
    assert "layer2 (frozen)" in texts and "layer3 (trained)" in texts
    assert "<b>Freeze these</b>" in texts and "<b>Train these</b>" in texts
    fills = [s.fillcolor for s in fig.layout.shapes if s.type == "rect"]
    # image, 3 frozen, 2 trained, the head
    assert fills.count(plots.FROZEN_COLOR) == 3 and fills.count(plots.TRAINED_COLOR) == 2
    linear = _labels(plots.freeze_figure(blocks, plots.trained_blocks(5, "linear", 1), "r"))
    assert "<b>Train this</b>" in linear and "<b>Freeze these</b>" in linear
    full = _labels(plots.freeze_figure(blocks, plots.trained_blocks(5, "full", 1), "r"))
    assert not any("Freeze" in t for t in full)


def test_strategy_table_highlights_one_cell() -> None:
    cells = {
        ("small", True): "linear probe",
        ("small", False): "fine-tune more",
        ("large", True): "fine-tune a few",
        ("large", False): "fine-tune many",
    }
    fig = plots.strategy_table_figure(cells, ("small", False), 200)
    bold = [a.text for a in fig.layout.annotations if a.text.startswith("<b>")]
    assert bold == ["<b>fine-tune more</b>"]
    highlighted = [s for s in fig.layout.shapes if s.fillcolor == plots.HIGHLIGHT]
    # small is the left column, different the lower row
    assert len(highlighted) == 1 and highlighted[0].x0 == 0 and highlighted[0].y0 == 0
    assert "200 images" in fig.layout.xaxis.ticktext[0]


METRICS = [
    {"batch": 1, "epoch": 0.5, "train_loss": 2.0},
    {"batch": 2, "epoch": 1.0, "train_loss": 1.5},
    {"epoch": 1, "train_loss": 1.7, "train_accuracy": 0.4, "val_loss": 1.6, "val_accuracy": 0.5},
    {"batch": 3, "epoch": 1.5, "train_loss": 1.2},
    {"epoch": 2, "train_loss": 1.1, "train_accuracy": 0.6, "val_loss": 1.0, "val_accuracy": 0.7},
]


def test_curves_split_batch_and_epoch_points() -> None:
    fig = plots.curves_figure(METRICS, epochs=5)
    traces = {t.name: t for t in fig.data}
    assert list(traces["train loss (per batch)"].x) == [0.5, 1.0, 1.5]
    assert list(traces["train loss (per batch)"].y) == [2.0, 1.5, 1.2]
    assert list(traces["validation accuracy"].x) == [1, 2]
    assert list(traces["validation accuracy"].y) == [0.5, 0.7]
    assert traces["train accuracy"].xaxis == "x2" and traces["train loss"].xaxis == "x"
    assert fig.layout.xaxis.range[1] >= 5  # the axis spans the planned epochs from the start


def test_curves_of_nothing_yet() -> None:
    assert plots.curves_figure([], epochs=3).data == ()


def test_confusion_heatmap_is_the_confusion() -> None:
    confusion = [[5, 1, 0], [2, 3, 1], [0, 0, 4]]
    fig = plots.confusion_figure(confusion, ["a", "b", "c"])
    heat, cells = fig.data
    assert [list(r) for r in heat.z] == confusion
    assert list(heat.x) == ["a", "b", "c"] == list(heat.y)
    # one clickable point per cell, at the cell of its (true, predicted) pair
    assert len(cells.customdata) == 9
    for (i, j, count), x, y in zip(cells.customdata, cells.x, cells.y, strict=True):
        assert (y, x) == ("abc"[i], "abc"[j]) and count == confusion[i][j]


def test_per_class_and_topk_bars() -> None:
    fig = plots.per_class_accuracy_figure({"a": 0.5, "b": 1.0})
    assert list(fig.data[0].y) == [0.5, 1.0]
    top = plots.topk_figure([("dog", 0.7), ("cat", 0.2)])
    assert list(top.data[0].y) == ["dog", "cat"] and list(top.data[0].x) == [0.7, 0.2]


def _epochs(val_losses: list[float]) -> list[dict[str, float]]:
    return [
        {
            "epoch": e,
            "train_loss": 0.5 / e,
            "train_accuracy": 0.5,
            "val_loss": v,
            "val_accuracy": 0.5,
        }
        for e, v in enumerate(val_losses, start=1)
    ]


def test_a_loss_outlier_turns_the_loss_axis_logarithmic() -> None:
    # One epoch's validation loss at 36, every other loss under 1 (the run).
    metrics = _epochs([0.9, 36.0, 0.6, 0.5])
    fig = plots.curves_figure(metrics, epochs=4)
    axis = fig.layout.yaxis
    assert axis.type == "log"
    losses = [0.5 / e for e in range(1, 5)] + [0.9, 36.0, 0.6, 0.5]
    low, high = axis.range  # log axes' range is in decades: every loss lies inside
    assert low < np.log10(min(losses)) and np.log10(max(losses)) < high
    # the small ones are spread over most of the axis, not squashed at its foot
    assert (np.log10(0.9) - np.log10(0.125)) / (high - low) > 0.3
    assert fig.layout.yaxis2.type != "log"  # accuracy stays linear
    assert fig.layout.annotations[0].text == "Loss (log scale)"
    # ticks at 1, 2, 5 of each decade, written out: every one between the losses, none outside
    ticks = dict(zip(axis.tickvals, axis.ticktext, strict=True))
    assert all(low <= np.log10(t) <= high for t in ticks)
    between = [0.2, 0.5, 1, 2, 5, 10, 20]  # from 0.125 to 36
    assert [ticks[t] for t in between] == ["0.2", "0.5", "1", "2", "5", "10", "20"]


def test_ordinary_losses_keep_a_linear_axis_from_zero() -> None:
    fig = plots.curves_figure(_epochs([1.2, 0.9, 0.7, 0.6]), epochs=4)
    assert fig.layout.yaxis.type == "linear" and fig.layout.yaxis.rangemode == "tozero"
    assert fig.layout.annotations[0].text == "Loss"
    # the ratio: just under it stays linear, just over turns logarithmic
    r = plots.LOSS_OUTLIER_RATIO
    assert plots.loss_axis([0.5, 0.5, 0.5 * r])["type"] == "linear"
    assert plots.loss_axis([0.5, 0.5, 0.5 * r * 1.01])["type"] == "log"
    assert plots.loss_axis([0.0, 3.0])["type"] == "linear"  # nothing to compare with


def test_confusion_outlines_the_chosen_cell_and_counts_in_words() -> None:
    confusion = [[5, 1], [0, 3]]
    fig = plots.confusion_figure(confusion, ["brick", "grass"], chosen=(0, 1))
    (outline,) = fig.layout.shapes
    # category axes: column 1 (predicted grass) spans 0.5..1.5, row 0 (true brick) -0.5..0.5
    assert (outline.x0, outline.x1, outline.y0, outline.y1) == (0.5, 1.5, -0.5, 0.5)
    points = zip(fig.data[1].customdata, fig.data[1].text, strict=True)
    texts = {(i, j): text for (i, j, _), text in points}
    assert texts[0, 1] == "true brick, predicted grass: 1 image"
    assert texts[1, 0] == "true grass, predicted brick: 0 images"
    assert texts[0, 0] == "true brick, predicted brick: 5 images"
    assert not plots.confusion_figure(confusion, ["brick", "grass"]).layout.shapes
