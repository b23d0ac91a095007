"""Experiment 2, noise-injection magnitude: LeNet-5 on about 200 training digits with Gaussian
noise on the inputs, Gaussian noise on the hidden units, or dropout, each at several
magnitudes, over several seeds. Too little noise overfits (training accuracy far above
validation), too much destroys the signal and underfits (both fall, in every seed); what the
middle magnitudes change is measured against the seeds' spread (`conclusion`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from cnnviz.experiments import digits32
from cnnviz.experiments.fit import Progress, Schedule, accuracy, init_weights, train
from cnnviz.experiments.layers import noisy_lenet, seed
from cnnviz.experiments.seeds import (
    document,
    over_seeds,
    overlaps,
    seeds_from,
    spread,
    workers,
)
from cnnviz.jobs import Reporter

# Magnitudes per kind: a Gaussian's standard deviation (images are in [0, 1], hidden units of
# LeNet-5 in [-1, 1] after tanh), dropout's probability of dropping a unit.
# Magnitude 0 overfits (train 100%), the largest destroy the signal (both accuracies fall in
# every seed); the middle ones' effect on validation is within the seeds' spread at this size.
MAGNITUDES: dict[str, tuple[float, ...]] = {
    "input": (0.0, 0.5, 5.0),
    "hidden": (0.0, 1.0, 10.0),
    "dropout": (0.0, 0.5, 0.95),
}
FULL_MAGNITUDES: dict[str, tuple[float, ...]] = {
    "input": (0.0, 0.25, 0.5, 1.0, 1.5, 3.0, 5.0),
    "hidden": (0.0, 0.3, 1.0, 2.0, 3.0, 5.0, 10.0),
    "dropout": (0.0, 0.2, 0.5, 0.7, 0.8, 0.9, 0.95),
}


QUICK_EPOCHS = 10


@dataclass(frozen=True)
class NoiseConfig:
    schedule: Schedule
    seed: int = 0  # the first seed; the others follow it
    seeds: int = 1  # how many seeds: the spread of the results across them is the yardstick
    magnitudes: dict[str, tuple[float, ...]] = field(default_factory=lambda: dict(MAGNITUDES))
    train_per_class: int = 20  # 200 training digits: little data, so the network overfits


SIZES = {
    "tiny": NoiseConfig(
        magnitudes={"input": (0.0, 3.0), "dropout": (0.5,)},
        train_per_class=5,
        seeds=2,
        schedule=Schedule(epochs=3, batch_size=25, lr=2e-3),
    ),
    "quick": NoiseConfig(Schedule(epochs=QUICK_EPOCHS, batch_size=20, lr=3e-3), seeds=3),
    "full": NoiseConfig(magnitudes=FULL_MAGNITUDES, schedule=Schedule(60, 20, 1e-3), seeds=3),
}


def setting(kind: str, magnitude: float) -> str:
    """A setting's name, the key of the document's spread: "input 0.5"."""
    return f"{kind} {magnitude:g}"


def trainings(config: NoiseConfig) -> int:
    """Networks trained per seed: magnitude 0 is the same network for every kind."""
    every = [m for ms in config.magnitudes.values() for m in ms]
    return sum(m != 0 for m in every) + any(m == 0 for m in every)


def run_noise(config: NoiseConfig, *, report: Reporter) -> dict[str, Any]:
    """{"runs": [{"kind", "magnitude", "train_accuracy", "val_accuracy"}], "seeds": [..],
    "per_seed": [{"seed", "runs": [..]}], "spread": {"input 0.5": {"train_mean", "train_min",
    "train_max", "train_std", "val_mean", ..}}}: accuracies of the trained networks in eval
    mode (no noise) on their clean training digits and on validation; "runs" holds the means
    over the seeds, "per_seed" each seed's own."""
    seeds = seeds_from(config.seed, config.seeds)
    n_train = digits32.load(config.seed, train_per_class=config.train_per_class).train_y.numel()
    progress = Progress(report, len(seeds) * trainings(config) * config.schedule.steps(n_train))
    per_seed = over_seeds(
        lambda s: _one_seed(config, s, progress, several=len(seeds) > 1),
        seeds,
        parallel=workers(len(seeds)),
    )
    runs, spreads = [], {}
    for i, first in enumerate(per_seed[0]):
        name = setting(first["kind"], first["magnitude"])
        stats = {}
        for metric, short in (("train_accuracy", "train"), ("val_accuracy", "val")):
            for key, value in spread([seed_runs[i][metric] for seed_runs in per_seed]).items():
                stats[f"{short}_{key}"] = value
        spreads[name] = stats
        runs.append(
            {
                "kind": first["kind"],
                "magnitude": first["magnitude"],
                "train_accuracy": stats["train_mean"],
                "val_accuracy": stats["val_mean"],
            }
        )
    return document(runs, seeds, per_seed, spreads)


def _one_seed(
    config: NoiseConfig, seed_: int, progress: Progress, *, several: bool
) -> list[dict[str, Any]]:
    data = digits32.load(seed_, train_per_class=config.train_per_class)
    runs: list[dict[str, Any]] = []
    clean: dict[str, float] | None = None  # magnitude 0 is the same network for every kind
    suffix = f", seed {seed_}" if several else ""
    for kind, magnitudes in config.magnitudes.items():
        for magnitude in magnitudes:
            name = setting(kind, magnitude) + suffix
            if magnitude == 0 and clean is not None:
                runs.append({"kind": kind, "magnitude": magnitude, **clean})
                progress.metrics(run=name, **runs[-1])
                continue
            generator = torch.Generator().manual_seed(seed_)
            model = seed(init_weights(noisy_lenet(kind, magnitude), generator), generator)
            train(
                model,
                data.train_x,
                data.train_y,
                schedule=config.schedule,
                generator=generator,
                progress=progress,
                name=name,
                measure=lambda m: {"val_accuracy": accuracy(m, data.val_x, data.val_y)},
            )
            run = {
                "kind": kind,
                "magnitude": magnitude,
                "train_accuracy": accuracy(model, data.train_x, data.train_y),
                "val_accuracy": accuracy(model, data.val_x, data.val_y),
            }
            runs.append(run)
            progress.metrics(run=name, **run)
            if magnitude == 0:
                clean = {k: run[k] for k in ("train_accuracy", "val_accuracy")}
    return runs


def _range(stats: dict[str, float], metric: str) -> dict[str, float]:
    return {k: stats[f"{metric}_{k}"] for k in ("mean", "min", "max")}


def _span(stats: dict[str, float], metric: str) -> str:
    low, high = stats[f"{metric}_min"], stats[f"{metric}_max"]
    return f"{low:.1%}" if high - low < 5e-4 else f"{low:.1%} to {high:.1%}"


def conclusion(doc: dict[str, Any]) -> list[str]:
    """The result in words, no more than the seeds show (markdown sentences): no noise's
    training and validation accuracy; the largest magnitude of each kind underfits when its
    training accuracy lies below no noise's in every seed (its range below no noise's range:
    the headline); a setting whose validation range across the seeds overlaps no noise's is
    "within the spread of N seeds", only one whose range lies wholly above or below is called
    better or worse."""
    spreads = doc["spread"]
    n = len(doc["seeds"])
    seeds_words = f"{n} seeds" if n > 1 else "1 seed"
    runs = doc["runs"]
    clean_run = next((r for r in runs if r["magnitude"] == 0), None)
    lines: list[str] = []
    clean = spreads[setting(clean_run["kind"], 0.0)] if clean_run else None
    if clean is not None:
        by_heart = (
            "the network learns its training digits by heart: "
            if clean["train_min"] >= 0.99
            else ""
        )
        lines.append(
            f"Without noise {by_heart}training **{_span(clean, 'train')}**, validation "
            f"**{_span(clean, 'val')}** over {seeds_words}."
        )
    noisy = [r for r in runs if r["magnitude"] != 0]
    largest = {}
    for r in noisy:
        if r["magnitude"] >= largest.get(r["kind"], r)["magnitude"]:
            largest[r["kind"]] = r
    if clean is not None:
        under = [
            r
            for r in largest.values()
            if _below(_range(spreads[setting(r["kind"], r["magnitude"])], "train"), clean, "train")
        ]
        if under:
            parts = ", ".join(_named(r, spreads, "train") for r in under)
            every = f"in every one of the {n} seeds" if n > 1 else "in this seed"
            lines.append(
                f"Too much noise destroys the signal and the network underfits: training "
                f"accuracy falls {every} ({parts})."
            )
        if n == 1:
            lines.append("One seed only: no spread to tell an effect from chance.")
            return lines
        inside, better, worse = [], [], []
        for r in noisy:
            if r in under:
                continue  # said above
            stats = spreads[setting(r["kind"], r["magnitude"])]
            val = _range(stats, "val")
            if overlaps(val, _range(clean, "val")):
                inside.append(r)
            elif val["min"] > clean["val_max"]:
                better.append(r)
            else:
                worse.append(r)
        if better:
            lines.append(
                "Validation above no noise's in every seed (ranges apart): "
                + ", ".join(_named(r, spreads) for r in better)
                + "."
            )
        if worse:
            lines.append(
                "Validation below no noise's in every seed: "
                + ", ".join(_named(r, spreads) for r in worse)
                + "."
            )
        if inside:
            lines.append(
                "Validation of "
                + ", ".join(_named(r, spreads) for r in inside)
                + f": within the spread of {seeds_words} around no noise's, no effect one can "
                "tell from chance at this size."
            )
    return lines


def _named(run: dict[str, Any], spreads: dict[str, dict[str, float]], metric: str = "val") -> str:
    name = setting(run["kind"], run["magnitude"])
    return f"{name} **{_span(spreads[name], metric)}**"


def _below(a: dict[str, float], clean: dict[str, float], metric: str) -> bool:
    return a["max"] < clean[f"{metric}_min"]
