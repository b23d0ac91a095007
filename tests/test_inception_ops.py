"""Inception ops: the lecture's totals, the slide's 358M erratum, closed form == real modules."""

from __future__ import annotations

import random

import pytest
import torch
from torch import nn

from cnnviz import registry
from cnnviz.analysis import analyze, analyze_module
from cnnviz.inception_ops import (
    SLIDE_BOTTLENECK_TOTAL,
    bottleneck_ops,
    check_rows,
    engine_check,
    lecture_widths,
    naive_ops,
    slide_erratum,
    stacked_bottleneck,
    stacked_naive,
)
from cnnviz.notation import compact
from cnnviz.plots.inception_ops import macs_by_term_figure, stacked_depth_figure


def test_naive_module_on_the_lecture_numbers():
    ops = naive_ops()
    assert [t.formula for t in ops.terms] == [
        "28*28*128*1*1*256 = 25,690,112",
        "28*28*192*3*3*256 = 346,816,512",
        "28*28*96*5*5*256 = 481,689,600",
    ]
    assert [t.label for t in ops.terms] == ["[1x1 conv, 128]", "[3x3 conv, 192]", "[5x5 conv, 96]"]
    assert ops.total_macs == 854_196_224  # the slide's "854M ops"
    assert ops.output_depth == 672  # 128 + 192 + 96 + 256
    assert ops.output_volume == "28x28x672"


def test_bottleneck_module_on_the_lecture_numbers():
    ops = bottleneck_ops()
    assert ops.total_macs == 271_351_808
    assert ops.output_depth == 480
    one_by_one_64 = [t.macs for t in ops.terms if t.kernel == 1 and t.filters == 64]
    assert sum(one_by_one_64) == 38_535_168  # 3 x 28*28*64*256
    assert ops.term("3x3").formula == "28*28*192*3*3*64 = 86,704,128"
    assert ops.term("5x5").formula == "28*28*96*5*5*64 = 120,422,400"
    assert ops.term("1x1").macs == 25_690_112


def test_lecture_widths_are_the_registered_builders_defaults():
    assert lecture_widths("inception_naive") == {"c1x1": 128, "c3x3": 192, "c5x5": 96}
    assert naive_ops(**lecture_widths("inception_naive")) == naive_ops()
    assert bottleneck_ops(**lecture_widths("inception_bottleneck")) == bottleneck_ops()


def test_the_slides_358m_comes_from_counting_the_3x3_term_twice():
    e = slide_erratum()
    assert e.terms_total == 271_351_808
    assert e.counted_twice == 271_351_808 + 86_704_128 == 358_055_936
    # ... or, the same number, from taking the 3x3's input depth as 128 instead of 64.
    assert e.term3x3_on_c1x1.formula == "28*28*192*3*3*128 = 173,408,256"
    assert e.on_c1x1_total == 358_055_936
    assert f"{round(e.counted_twice / 1e6)}M" == SLIDE_BOTTLENECK_TOTAL  # the slide's number


def test_closed_form_matches_the_real_modules_on_the_lecture_numbers():
    for ops in (naive_ops(), bottleneck_ops()):
        check = engine_check(ops, analyze(ops.module))
        assert check.agrees(ops)
        assert [macs for _, macs in check.rows] == [t.macs for t in ops.terms]


@pytest.mark.parametrize("seed", range(6))
def test_closed_form_matches_the_real_modules_for_random_settings(seed):
    rng = random.Random(seed)
    size = (rng.randint(1, 600), rng.randint(1, 40), rng.randint(1, 40))
    naive_widths = {k: rng.randint(1, 300) for k in ("c1x1", "c3x3", "c5x5")}
    widths = {
        **naive_widths,
        **{k: rng.randint(1, 200) for k in ("c3x3_reduce", "c5x5_reduce", "pool_proj")},
    }
    for ops, options in (
        (naive_ops(size, **naive_widths), naive_widths),
        (bottleneck_ops(size, **widths), widths),
    ):
        analysis = analyze(ops.module, size, **options)
        check = engine_check(ops, analysis)
        assert check.agrees(ops), (size, options)
        assert analysis.output_shape == (ops.output_depth, size[1], size[2])


def test_a_disagreement_would_be_caught():
    ops = bottleneck_ops()
    other = analyze("inception_bottleneck", (256, 28, 28), c3x3_reduce=128)
    check = engine_check(ops, other)
    assert not check.agrees(ops)
    marks = {row["engine layer"]: row["agree"] for row in check_rows(ops, check)}
    assert marks["branch3x3.reduce.conv"] == marks["branch3x3.conv.conv"] == "✗"
    assert marks["branch1x1.conv"] == "✓"


def test_stacked_naive_modules_grow_in_depth_like_real_stacked_modules():
    chain = stacked_naive(naive_ops(), modules=4)
    assert [m.output_depth for m in chain] == [672, 1088, 1504, 1920]
    assert [m.input[0] for m in chain] == [256, 672, 1088, 1504]
    # A second method: the registered module, stacked for real, analyzed on the meta device.
    with torch.device("meta"):
        layers, depth = [], 256
        for m in chain:
            layers.append(registry.build("inception_naive", input_size=(depth, 28, 28)))
            depth = m.output_depth
        model = nn.Sequential(*layers)
    analysis = analyze_module(model, (256, 28, 28))
    assert analysis.output_shape == (1920, 28, 28)
    assert analysis.total_macs == sum(m.total_macs for m in chain)


def test_bottleneck_modules_keep_their_depth():
    chain = stacked_bottleneck(bottleneck_ops(), modules=5)
    assert [m.output_depth for m in chain] == [480] * 5
    assert chain[1].input[0] == 480
    assert chain[1].total_macs == bottleneck_ops((480, 28, 28)).total_macs


def test_figures_show_every_term_and_module():
    naive, bottleneck = naive_ops(), bottleneck_ops()
    fig = macs_by_term_figure(naive, bottleneck)
    per_module = [sum(bar.y[i] for bar in fig.data) for i in range(2)]
    assert per_module == [854_196_224, 271_351_808]
    assert {bar.name for bar in fig.data} == {
        "1x1",
        "3x3",
        "5x5",
        "3x3 reduce",
        "5x5 reduce",
        "pool proj",
    }
    fig = stacked_depth_figure(stacked_naive(naive, 3), stacked_bottleneck(bottleneck, 3))
    depths = [bar.y for bar in fig.data if bar.xaxis == "x"]
    assert [list(d) for d in depths] == [[672, 1088, 1504], [480, 480, 480]]


def test_macs_axes_are_written_like_the_metrics():
    """Plotly would label 1.5e9 '1.5B'; the metrics write notation.compact's '1.50 G'."""
    naive, bottleneck = naive_ops(), bottleneck_ops()
    terms = macs_by_term_figure(naive, bottleneck)
    ticks = dict(zip(terms.layout.yaxis.tickvals, terms.layout.yaxis.ticktext, strict=True))
    assert ticks[1e9] == "1.00 G" and ticks[2e8] == "200.00 M"
    assert max(ticks) >= naive.total_macs
    stack = stacked_depth_figure(stacked_naive(naive, 5), stacked_bottleneck(bottleneck, 5))
    axis = stack.layout.yaxis2
    assert list(axis.ticktext) == [compact(v) for v in axis.tickvals]
    assert max(axis.tickvals) >= max(m.total_macs for m in stacked_naive(naive, 5))
