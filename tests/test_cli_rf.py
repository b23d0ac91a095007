"""`python -m cnnviz rf` and the rf/jump columns of `summary --json`."""

from __future__ import annotations

import json

import pytest

from cnnviz.cli import main


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_rf_json_keys_and_published_vgg16_numbers(capsys) -> None:
    code, out, _ = run(capsys, "rf", "vgg16", "--layer", "features.30", "--json")
    doc = json.loads(out)
    assert code == 0
    # google-research/receptive_field: VGG-16 pool5 212, stride 32, effective padding 90.
    assert (doc["rf"], doc["jump"], doc["start"]) == (212, 32, -90)
    assert doc["center"] == 15.5 and doc["rf_hw"] == [212, 212]
    assert doc["model"] == "vgg16" and doc["layer"] == "features.30"
    assert doc["input"] == [3, 224, 224] and doc["output_shape"] == [512, 7, 7]


def test_rf_non_square_input_and_global_layer(capsys) -> None:
    code, out, _ = run(capsys, "rf", "resnet18", "--layer", "fc", "--input", "3,160,320", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["global"] is True
    assert (doc["rf"], doc["jump"], doc["start"]) == (160, 160, 0)  # H axis
    assert doc["rf_hw"] == [160, 320] and doc["start_hw"] == [0, 0]


def test_rf_text_mode(capsys) -> None:
    code, out, _ = run(capsys, "rf", "alexnet_lecture", "--layer", "pool3")
    assert code == 0 and len(out.strip().splitlines()) == 1
    assert "receptive field 195x195" in out and "jump 32" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["rf", "resnet18", "--layer", "layer9"], "no layer 'layer9'"),
        (["rf", "vgg17", "--layer", "features.0"], "unknown model 'vgg17'"),
        (["rf", "vgg16", "--layer", "features.0", "--input", "3,224"], "C,H,W"),
        (["rf", "vgg16", "--layer", "features.0", "--input", "3,16,16"], "too small for vgg16"),
        (["rf", "lenet5", "--layer", "c1", "--option", "depth=3"], "no option"),
        (["rf", "vgg16", "--layer", "features.0", "--input", "3,4096,224"], "from 1 to 2,048"),
    ],
)
def test_rf_bad_input_exits_2_with_one_line(capsys, args: list[str], message: str) -> None:
    code, out, err = run(capsys, *args)
    assert code == 2 and out == ""
    assert message in err and len(err.strip().splitlines()) == 1


def test_unknown_layer_lists_some_valid_ones(capsys) -> None:
    _, _, err = run(capsys, "rf", "resnet18", "--layer", "layer9")
    assert "conv1" in err and "layer4" in err


def test_summary_json_rows_gain_rf_and_jump(capsys) -> None:
    code, out, _ = run(capsys, "summary", "resnet18", "--json")
    doc = json.loads(out)
    assert code == 0
    layers = {r["name"]: r for r in doc["layers"]}
    blocks = {r["name"]: r for r in doc["blocks"]}
    assert (layers["conv1"]["rf"], layers["conv1"]["jump"]) == (7, 2)
    assert (layers["maxpool"]["rf"], layers["maxpool"]["jump"]) == (11, 4)
    assert (blocks["layer4"]["rf"], blocks["layer4"]["jump"]) == (435, 32)
    assert (layers["fc"]["rf"], layers["fc"]["jump"]) == (224, 224)  # global: whole input
    # The block's one ReLU, called after bn1 and again after the addition: one row per call.
    relu = [r["rf"] for r in doc["layers"] if r["name"] == "layer1.0.relu"]
    assert relu == [19, 27]
    # Existing keys are kept.
    assert {"name", "type", "output_shape", "params", "macs"} <= set(doc["layers"][0])


def test_summary_json_rows_follow_the_input(capsys) -> None:
    _, out, _ = run(capsys, "summary", "alexnet_lecture", "--json")
    rows = {r["name"]: r for r in json.loads(out)["layers"]}
    assert [rows[n]["rf"] for n in ("conv1", "pool1", "conv2", "pool3")] == [11, 19, 51, 195]
    assert rows["fc8"]["rf"] == 227


def test_rf_uneven_adaptive_pool_reports_its_range(capsys) -> None:
    # torchvision's AlexNet at 160x224: pool5 is 4x6 and the adaptive pool makes 6x6. Along H,
    # PyTorch's windows [floor(4i/6), ceil(4(i+1)/6)) hold one or two pool5 units, whose
    # fields are 195 (one unit) and 195 + 32 = 227 (two units, jump 32); along W it is 6 -> 6.
    code, out, _ = run(
        capsys, "rf", "alexnet", "--layer", "avgpool", "--input", "3,160,224", "--json"
    )
    doc = json.loads(out)
    assert code == 0 and doc["uniform"] is False
    assert doc["rf_range_hw"] == [[195, 227], [195, 195]]
    code, out, _ = run(capsys, "rf", "alexnet", "--layer", "avgpool", "--input", "3,160,224")
    assert code == 0 and "up to 227x195" in out and "units differ: 195..227" in out
    _, out, _ = run(capsys, "rf", "vgg16", "--layer", "features.30", "--json")
    assert json.loads(out)["uniform"] is True


def test_receptive_field_is_rf_spelled_out(capsys) -> None:
    """`receptive-field` is the same command as `rf`: the same document for the same layer."""
    args = ("vgg16", "--layer", "features.30", "--json")
    short, long = run(capsys, "rf", *args), run(capsys, "receptive-field", *args)
    assert short[0] == long[0] == 0 and json.loads(long[1]) == json.loads(short[1])
    assert json.loads(long[1])["rf"] == 212


def test_receptive_field_is_listed_in_the_help(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out, _ = capsys.readouterr()
    assert "rf (receptive-field)" in out
