"""The lecture's live experiments (LeNet-5 and small ResNets on the digits, on the CPU), each a
job function of picklable inputs for `cnnviz.jobs`: `run(config, *, report) -> dict`, the
JSON document of `python -m cnnviz experiment NAME --json`.

    from cnnviz.experiments import EXPERIMENTS
    exp = EXPERIMENTS["rotation"]
    doc = exp.run(exp.configure("quick", seed=0), report=report)

Sizes: "quick" for a class (`estimate`: under a minute or so alone on 2 CPU cores), "full" for
the lecture's figures (minutes), "tiny" for tests (a smoke run, numbers mean nothing). Noise
and rotation run several seeds in one job (`seeds.py`): their documents add "seeds",
"per_seed" and "spread".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from cnnviz.experiments import augment_vs_none, degradation, limits, noise, rotation

SIZES = ("tiny", "quick", "full")
STEP_SECONDS = 0.02  # one LeNet-5 batch step of the noise and rotation experiments


@dataclass(frozen=True)
class Experiment:
    name: str
    title: str
    run: Callable[..., dict[str, Any]]  # run(config, *, report) -> the JSON document
    presets: dict[str, Any]  # size -> config (seed 0)
    # size -> seconds on the class's 2-core server, the wait the job runner shows the jobs
    # queued behind it and the time the page states: batch steps x STEP_SECONDS, near the slow
    # end of what bench/experiments_time.py measures (one torch thread on a loaded 2-core
    # server), so that the page's estimate is rather long than short.
    estimate: dict[str, float]

    def configure(self, size: str = "quick", seed: int = 0) -> Any:
        """The config of one size with `seed` (OutOfBounds outside limits.EXPERIMENT_SEED)."""
        if size not in self.presets:
            raise ValueError(f"unknown size {size!r}; sizes: {', '.join(SIZES)}")
        return replace(self.presets[size], seed=limits.EXPERIMENT_SEED.check(seed))


EXPERIMENTS: dict[str, Experiment] = {
    "rotation": Experiment(
        "rotation",
        "Only the desired invariance: rotating digits",
        rotation.run_rotation,
        rotation.SIZES,
        # quick 7 ranges x 6 epochs x 40 steps, full 9 x 25 x 40 x 3 seeds
        {"tiny": 2, "quick": 1680 * STEP_SECONDS, "full": 27_000 * STEP_SECONDS},
    ),
    "noise": Experiment(
        "noise",
        "Noise injection: how much?",
        noise.run_noise,
        noise.SIZES,
        # quick 7 networks x 10 epochs x 10 steps x 3 seeds, full 19 x 60 x 10 x 3
        {"tiny": 2, "quick": 2100 * STEP_SECONDS, "full": 34_200 * STEP_SECONDS},
    ),
    "augment": Experiment(
        "augment",
        "Augmentation vs none on a small subset",
        augment_vs_none.run_augment,
        augment_vs_none.SIZES,
        {"tiny": 1, "quick": 5, "full": 15},
    ),
    "degradation": Experiment(
        "degradation",
        "Deeper plain networks train worse",
        degradation.run_degradation,
        degradation.SIZES,
        {"tiny": 2, "quick": 13, "full": 60},
    ),
}


def summary_lines(name: str, doc: dict[str, Any]) -> list[str]:
    """The `experiment` command's text output: one line per run."""
    lines = []
    seeds = doc.get("seeds", [])
    over = f" (mean, min-max of {len(seeds)} seeds)" if len(seeds) > 1 else ""
    for run in doc["runs"]:
        if name == "rotation":
            stats = doc["spread"][str(run["max_degrees"])] if over else None
            lines.append(
                f"up to {run['max_degrees']:>3} degrees: validation {run['val_accuracy']:.1%}, "
                f"6 <-> 9 confusions {rotation.six_nine(run['confusion']):.1%}"
                + (
                    f"; seeds {stats['six_nine_mean']:.1%} "
                    f"({stats['six_nine_min']:.1%}-{stats['six_nine_max']:.1%})"
                    if stats
                    else ""
                )
            )
        elif name == "noise":
            stats = doc["spread"][noise.setting(run["kind"], run["magnitude"])]
            lines.append(
                f"{run['kind']:<8} {run['magnitude']:>5g}: train {run['train_accuracy']:.1%}, "
                f"validation {run['val_accuracy']:.1%}"
                + (
                    f"{over}: train {stats['train_min']:.1%}-{stats['train_max']:.1%}, "
                    f"validation {stats['val_min']:.1%}-{stats['val_max']:.1%}"
                    if over
                    else ""
                )
            )
        elif name == "augment":
            last = run["history"][-1]
            lines.append(
                f"{'augmented' if run['augment'] else 'not augmented':<14} validation after "
                f"epoch {last['epoch']}: {last['val_accuracy']:.1%}"
            )
        else:
            last = run["history"][-1]
            loss = "diverged" if last["train_loss"] is None else f"{last['train_loss']:.3f}"
            lines.append(
                f"{run['kind']:<8} {run['depth']:>3} layers: training loss {loss}, "
                f"training accuracy {last['train_accuracy']:.1%} after epoch {last['epoch']}"
            )
    return lines
