"""bench/transfer_gain.py's table: the gain column is synthetic's mean minus random's, per
dataset and strategy, in run order (the README's table is its output)."""

from __future__ import annotations

import sys

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "bench"))

import transfer_gain


def row(dataset: str, strategy: str, weights: str, accs: list[float]) -> dict[str, object]:
    return {
        "dataset": dataset,
        "strategy": strategy,
        "weights": weights,
        "accuracies": accs,
        "mean": sum(accs) / len(accs),
        "spread": max(accs) - min(accs),
        "seconds": 1.0,
    }


def test_the_gain_is_synthetic_minus_random_per_cell() -> None:
    rows = [
        row("textures", "linear", "none", [0.5, 0.6]),
        row("textures", "linear", "synthetic", [0.8, 0.9]),
        row("digits", "linear", "none", [0.9, 0.9]),
        row("digits", "linear", "synthetic", [0.88, 0.9]),
    ]
    lines = transfer_gain.table(rows, ["none", "synthetic"]).splitlines()
    assert lines[2] == "| textures | linear | 0.550 ± 0.050 | 0.850 ± 0.050 | +30.0 pts |"
    assert lines[3] == "| digits | linear | 0.900 ± 0.000 | 0.890 ± 0.010 | -1.0 pts |"
