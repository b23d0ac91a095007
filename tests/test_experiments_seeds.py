"""Several seeds in one job: the spread against numpy's own statistics, the same documents
whether the seeds run one after the other or in threads, and the noise conclusion's wording on
hand-made results (a difference inside the seeds' spread is called so; underfitting in every
seed is the headline)."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from cnnviz.experiments import EXPERIMENTS, noise, rotation, seeds
from cnnviz.experiments.fit import no_report
from cnnviz.experiments.rotation import six_nine


def test_seeds_follow_the_first() -> None:
    assert seeds.seeds_from(7, 3) == [7, 8, 9]
    with pytest.raises(ValueError):
        seeds.seeds_from(0, 0)


@pytest.mark.parametrize("values", [[0.93, 0.95, 0.9], [0.5], [0.1, 0.1, 0.4, 0.25]])
def test_spread_is_numpys_mean_min_max_std(values: list[float]) -> None:
    got = seeds.spread(values)
    a = np.array(values)
    assert got["mean"] == pytest.approx(a.mean())
    assert (got["min"], got["max"]) == (a.min(), a.max())
    assert got["std"] == pytest.approx(a.std(ddof=1) if a.size > 1 else 0.0)


def test_overlaps() -> None:
    assert seeds.overlaps({"min": 0.9, "max": 0.95}, {"min": 0.94, "max": 0.97})
    assert not seeds.overlaps({"min": 0.9, "max": 0.93}, {"min": 0.94, "max": 0.97})


def test_threads_give_the_results_in_seed_order() -> None:
    assert seeds.over_seeds(lambda s: s * s, [3, 1, 2], parallel=2) == [9, 1, 4]


@pytest.fixture(scope="module")
def noise_doc() -> dict:
    experiment = EXPERIMENTS["noise"]
    config = replace(experiment.configure("tiny", 0), seeds=3)
    return experiment.run(config, report=no_report)


def test_noise_spread_is_numpys_over_the_per_seed_results(noise_doc: dict) -> None:
    assert noise_doc["seeds"] == [0, 1, 2]
    assert [p["seed"] for p in noise_doc["per_seed"]] == [0, 1, 2]
    for i, run in enumerate(noise_doc["runs"]):
        name = noise.setting(run["kind"], run["magnitude"])
        stats = noise_doc["spread"][name]
        for metric, short in (("train_accuracy", "train"), ("val_accuracy", "val")):
            values = np.array([p["runs"][i][metric] for p in noise_doc["per_seed"]])
            assert stats[f"{short}_mean"] == pytest.approx(values.mean())
            assert stats[f"{short}_min"] == values.min()
            assert stats[f"{short}_max"] == values.max()
            assert stats[f"{short}_std"] == pytest.approx(values.std(ddof=1))
            assert run[metric] == pytest.approx(values.mean())  # "runs" holds the means


def test_each_seed_is_the_single_seed_run(noise_doc: dict) -> None:
    # A second method: the seed run alone, with its own document.
    experiment = EXPERIMENTS["noise"]
    alone = experiment.run(replace(experiment.configure("tiny", 1), seeds=1), report=no_report)
    assert alone["per_seed"][0]["runs"] == noise_doc["per_seed"][1]["runs"]


def test_threads_or_not_the_same_document(noise_doc: dict) -> None:
    experiment = EXPERIMENTS["noise"]
    config = replace(experiment.configure("tiny", 0), seeds=3)
    previous = torch.get_num_threads()
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            assert seeds.workers(3) == threads
            again = experiment.run(config, report=no_report)
            assert json.dumps(again) == json.dumps(noise_doc)
    finally:
        torch.set_num_threads(previous)


def _doc(results: dict[str, list[tuple[float, float]]]) -> dict:
    """A noise document from hand-made (train, val) accuracies per setting and seed."""
    n = len(next(iter(results.values())))
    spread, runs = {}, []
    for name, pairs in results.items():
        kind, magnitude = name.split()
        stats = {}
        for short, values in (("train", [p[0] for p in pairs]), ("val", [p[1] for p in pairs])):
            stats.update({f"{short}_{k}": v for k, v in seeds.spread(values).items()})
        spread[name] = stats
        runs.append(
            {
                "kind": kind,
                "magnitude": float(magnitude),
                "train_accuracy": stats["train_mean"],
                "val_accuracy": stats["val_mean"],
            }
        )
    return {"runs": runs, "seeds": list(range(n)), "spread": spread}


def test_conclusion_inside_the_spread_is_called_so() -> None:
    doc = _doc(
        {
            "input 0": [(1.0, 0.92), (1.0, 0.94), (1.0, 0.93)],
            "input 0.5": [(1.0, 0.935), (1.0, 0.95), (1.0, 0.93)],  # overlaps 0.92-0.94
            "input 5": [(0.5, 0.45), (0.6, 0.5), (0.55, 0.48)],  # below in every seed
        }
    )
    text = " ".join(noise.conclusion(doc))
    assert "by heart" in text and "92.0% to 94.0%" in text
    assert "input 0.5 **93.0% to 95.0%**: within the spread of 3 seeds" in text
    assert "underfits: training accuracy falls in every one of the 3 seeds" in text
    assert "input 5 **50.0% to 60.0%**" in text
    assert "above no noise" not in text


def test_conclusion_outside_the_spread_is_called_better() -> None:
    doc = _doc(
        {
            "dropout 0": [(1.0, 0.90), (1.0, 0.91)],
            "dropout 0.5": [(0.99, 0.95), (1.0, 0.96)],
            "dropout 0.95": [(0.98, 0.5), (1.0, 0.6)],  # training overlaps no noise's range
        }
    )
    text = " ".join(noise.conclusion(doc))
    assert "Validation above no noise's in every seed (ranges apart): dropout 0.5" in text
    assert "underfits" not in text  # 0.98-1.0 is not below 1.0-1.0 in every seed
    assert "Validation below no noise's in every seed: dropout 0.95" in text


def test_one_seed_claims_no_effect() -> None:
    doc = _doc({"input 0": [(1.0, 0.9)], "input 0.5": [(1.0, 0.95)]})
    text = " ".join(noise.conclusion(doc))
    assert "One seed only" in text and "above" not in text


def test_rotation_ranges_and_spread() -> None:
    experiment = EXPERIMENTS["rotation"]
    assert experiment.configure("quick").degrees == (0, 45, 90, 120, 150, 165, 180)
    assert {120, 150, 165} <= set(experiment.configure("full").degrees)
    config = replace(experiment.configure("tiny", 0), seeds=2)
    doc = experiment.run(config, report=no_report)
    assert doc["seeds"] == [0, 1] and list(doc["spread"]) == ["0", "180"]
    for i, degrees in enumerate(config.degrees):
        shares = np.array([six_nine(p["runs"][i]["confusion"]) for p in doc["per_seed"]])
        stats = doc["spread"][str(degrees)]
        assert stats["six_nine_mean"] == pytest.approx(shares.mean())
        assert (stats["six_nine_min"], stats["six_nine_max"]) == (shares.min(), shares.max())
    assert doc["runs"] == doc["per_seed"][0]["runs"]


def test_onset_is_the_first_range_past_the_threshold() -> None:
    def stats(share: float) -> dict[str, float]:
        return {"six_nine_mean": share}

    doc = {"spread": {"0": stats(0.0), "120": stats(0.01), "150": stats(0.05), "180": stats(0.2)}}
    assert rotation.onset(doc) == 150
    assert rotation.onset(doc, threshold=0.3) is None


@pytest.mark.parametrize("name", ["rotation", "noise"])
def test_estimates_are_the_sizes_steps_times_a_step(name: str) -> None:
    from cnnviz.experiments import STEP_SECONDS, digits32

    experiment = EXPERIMENTS[name]
    for size in ("quick", "full"):
        config = experiment.configure(size)
        n_train = digits32.load(0, train_per_class=config.train_per_class).train_y.numel()
        per_seed = noise.trainings(config) if name == "noise" else len(config.degrees)
        steps = config.seeds * per_seed * config.schedule.steps(n_train)
        assert experiment.estimate[size] == pytest.approx(steps * STEP_SECONDS)


def test_stop_reaches_every_seed_thread() -> None:
    # A job given 2 torch threads trains 2 seeds at once; Stop ends both within a batch.
    import time

    from cnnviz.jobs import JobRunner, JobSettings, JobState

    experiment = EXPERIMENTS["noise"]
    runner = JobRunner(JobSettings(cpu_threads=2))
    try:
        handle = runner.submit(
            experiment.run, experiment.configure("quick", 0), session="s", device="cpu"
        )
        deadline = time.monotonic() + 60
        while handle.progress().step < 4:
            assert time.monotonic() < deadline, handle.progress()
            time.sleep(0.02)
        handle.stop()
        assert handle.done(20)
        assert handle.state is JobState.STOPPED
        assert handle.progress().step < handle.progress().total
    finally:
        runner.shutdown()
