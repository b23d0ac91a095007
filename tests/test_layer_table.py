"""A whole model's layer table and its layers explained, against the engine and the lecture."""

from __future__ import annotations

import csv
import io

import pytest

from cnnviz.analysis import analyze
from cnnviz.layer_calculator import layer_arithmetic
from cnnviz.layer_fit import spec_output
from cnnviz.layer_table import explain_layer, layer_rows, layer_table_csv, spec_from_layer


def test_layer_table_csv_parses_back():
    analysis = analyze("alexnet_lecture")
    rows = list(csv.DictReader(io.StringIO(layer_table_csv(analysis))))
    assert len(rows) == len(analysis.leaves)
    assert rows[0] == {
        "layer": "conv1",
        "type": "Conv2d",
        "kind": "conv",
        "input": "227x227x3",
        "output": "55x55x96",
        "params": "34944",
        "macs": "105415200",
    }
    assert sum(int(r["params"]) for r in rows) == 62_378_344  # the lecture's AlexNet total
    assert sum(int(r["macs"]) for r in rows) == analysis.total_macs
    assert next(r for r in rows if r["layer"] == "fc6")["params"] == "37752832"


@pytest.mark.parametrize(
    "model", ["alexnet_lecture", "alexnet_paper", "vgg16", "googlenet", "resnet50", "lenet5"]
)
def test_every_conv_and_pool_layer_matches_the_engine(model):
    analysis = analyze(model)
    checked = 0
    for layer in analysis.leaves:
        spec = spec_from_layer(layer)
        if spec is None:
            continue
        c, h, w = layer.output_shape
        assert spec_output(spec) == (h, w, c), layer.name
        rows = dict(explain_layer(layer))
        assert "Note" not in rows, (layer.name, rows)
        if spec.is_conv:
            assert rows["MACs"].endswith(f"= {layer.macs:,}")
            assert rows["Parameters"].endswith(f"= {layer.params:,}")
        checked += 1
    assert checked >= 5


def test_explain_linear_and_batch_norm_and_resnet_conv1():
    alexnet = analyze("alexnet_lecture")
    fc6 = dict(explain_layer(alexnet.layer("fc6")))
    assert fc6["Parameters"] == "9216*4096 + 4096 = 37,752,832"
    assert fc6["MACs"].startswith("9216*4096 = 37,748,736")
    resnet = analyze("resnet18")
    assert dict(explain_layer(resnet.layer("bn1")))["Parameters"].startswith("2*64 = 128")
    conv1 = dict(explain_layer(resnet.layer("conv1")))
    # ResNet's first layer does not divide evenly either, and has no bias.
    assert conv1["Output height = width"] == "(224 - 7 + 2*3)/2 + 1 = 112.50, floored to 112"
    assert conv1["Parameters"] == "7*7*3*64 = 9,408"
    assert not layer_arithmetic(spec_from_layer(resnet.layer("conv1"))).fits


def test_explain_googlenet_ceil_mode_pool():
    layer = analyze("googlenet").layer("maxpool1")
    assert dict(explain_layer(layer))["Output height = width"] == (
        "(112 - 3 + 2*0)/2 + 1 = 55.50, ceil mode rounds up to 56"
    )


def test_layer_rows_skip_nothing():
    analysis = analyze("resnet18")
    rows = layer_rows(analysis)
    assert [r["layer"] for r in rows] == [layer.name for layer in analysis.leaves]
