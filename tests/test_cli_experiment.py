"""`python -m cnnviz experiment NAME [--quick] [--size] [--seed S] [--json]`: one JSON object
on stdout (progress on stderr), the experiment's own document; bad arguments exit 2 with one
line."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace

import pytest

from cnnviz.cli import main
from cnnviz.experiments import EXPERIMENTS
from cnnviz.experiments.fit import no_report


def test_json_on_stdout_is_the_experiment_document(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["experiment", "augment", "--size", "tiny", "--seed", "2", "--json"])
    out, _ = capsys.readouterr()
    assert code == 0
    experiment = EXPERIMENTS["augment"]
    expected = experiment.run(replace(experiment.configure("tiny"), seed=2), report=no_report)
    assert json.loads(out) == expected


def test_text_output_has_one_line_per_run(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["experiment", "rotation", "--size", "tiny"]) == 0
    out, _ = capsys.readouterr()
    lines = out.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("up to   0 degrees: validation ")


@pytest.mark.e2e  # a real process of its own
def test_subprocess_stdout_is_exactly_one_json_object() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "cnnviz", "experiment", "noise", "--size", "tiny", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)  # raises on anything but one JSON document
    assert list(doc) == ["runs", "seeds", "per_seed", "spread"]
    assert doc["runs"][0]["kind"] == "input" and doc["seeds"] == [0, 1]
    assert set(doc["spread"]) == {"input 0", "input 3", "dropout 0.5"}
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["experiment", "rotate"], "unknown experiment 'rotate'"),
        (["experiment", "noise", "--seed", "10000"], "must be from 0 to 9,999"),
        (["experiment", "noise", "--seed", "-1"], "must be from 0 to 9,999"),
        (["experiment", "noise", "--seed", "two"], "--seed must be a whole number"),
        (["experiment", "noise", "--size", "huge"], "unknown size 'huge'"),
        (["experiment", "noise", "--quick", "--size", "full"], "contradict"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(args) == 2
    out, err = capsys.readouterr()
    assert out == "" and message in err and len(err.strip().splitlines()) == 1
