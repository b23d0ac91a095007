"""`python -m cnnviz models|summary`: output, JSON contract and exit codes."""

import json
import subprocess
import sys

import pytest

from cnnviz import registry
from cnnviz.cli import main


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_models_json_lists_every_registered_model(capsys):
    code, out, _ = run(capsys, "models", "--json")
    rows = json.loads(out)
    assert code == 0
    assert [r["name"] for r in rows] == registry.names()
    lenet = next(r for r in rows if r["name"] == "lenet5")
    assert lenet["default_input"] == [1, 32, 32] and lenet["options"]["c3_table"] is False


def test_models_text(capsys):
    code, out, _ = run(capsys, "models")
    assert code == 0 and "alexnet_lecture" in out and "3x227x227" in out


def test_summary_json_contract(capsys):
    code, out, _ = run(capsys, "summary", "alexnet_lecture", "--json")
    doc = json.loads(out)
    assert code == 0
    assert doc["model"] == "alexnet_lecture" and doc["input"] == [3, 227, 227]
    assert doc["total_params"] == doc["trainable_params"] == 62_378_344
    conv1 = doc["layers"][0]
    assert {k: conv1[k] for k in ("name", "type", "output_shape", "params", "macs")} == {
        "name": "conv1",
        "type": "Conv2d",
        "output_shape": [96, 55, 55],
        "params": 34_944,
        "macs": 105_415_200,
    }
    assert doc["layers"][-1]["output_shape"] == [1000]


def test_summary_input_and_options(capsys):
    code, out, _ = run(
        capsys, "summary", "lenet5", "--input", "1,32,32", "--option", "c3_table=true", "--json"
    )
    doc = json.loads(out)
    assert code == 0 and doc["total_params"] == 60_806
    code, out, _ = run(capsys, "summary", "vgg16", "--input", "3,224,224")
    assert code == 0 and "138,357,544" in out and "15,470,264,320" in out


@pytest.mark.parametrize(
    "args,message",
    [
        (["summary", "vgg17"], "unknown model 'vgg17'"),
        (["summary", "vgg16", "--input", "3,16,16"], "too small for vgg16"),
        (["summary", "vgg16", "--input", "3,224"], "C,H,W"),
        (["summary", "vgg16", "--input", "a,b,c"], "C,H,W"),
        (["summary", "vgg16", "--option", "depth=19"], "no option"),
        (["summary", "lenet5", "--option", "oops"], "KEY=VALUE"),
        # Out of cnnviz.model_limits: refused before anything is built (20000x20000 took 5 GB).
        (["summary", "alexnet_lecture", "--input", "3,16000,16000"], "from 1 to 2,048"),
        (["summary", "alexnet_lecture", "--input", "3,100000,20000"], "height is 100,000"),
        (["summary", "vgg16", "--input", "9000,224,224"], "input depth"),
        (["summary", "resnet_basic_block", "--option", "planes=100000"], "(planes)"),
    ],
)
def test_bad_input_exits_2_with_one_line(capsys, args, message):
    code, out, err = run(capsys, *args)
    assert code == 2 and out == ""
    assert message in err and len(err.strip().splitlines()) == 1


@pytest.mark.e2e  # a real process of its own
def test_python_dash_m_entry_point():
    done = subprocess.run(
        [sys.executable, "-m", "cnnviz", "summary", "nope"], capture_output=True, text=True
    )
    assert done.returncode == 2 and "unknown model" in done.stderr


@pytest.mark.e2e  # a real process of its own
def test_a_reader_that_stops_early_gets_no_traceback():
    """`python -m cnnviz models --json | head -c 100`: the pipe closes after 100 bytes; the
    command ends without a BrokenPipeError traceback on stderr."""
    done = subprocess.run(
        f"{sys.executable} -m cnnviz summary vgg16 --json | head -c 100",
        shell=True, capture_output=True, text=True,
    )  # fmt: skip
    assert len(done.stdout) == 100
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr
