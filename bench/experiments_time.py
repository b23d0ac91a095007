"""Wall time of the quick noise and rotation experiments as the class server's job runner runs
them (one torch thread for a CPU job on 2 cores: the seeds one after the other), their batch
steps and seconds per step, the machine's load, and the results the page words: the noise
settings' mean and spread over the seeds, the rotation range where the 6 <-> 9 confusion starts.

    .venv/bin/python bench/experiments_time.py [--threads 1] [--out results.json]

The seconds per step alone on the server set `Experiment.estimate` (what the page states).
"""

from __future__ import annotations

import argparse
import json
import os
import time

import torch

from cnnviz.experiments import EXPERIMENTS, digits32, noise, rotation


def _count(steps: dict[str, int], *, total: int | None = None, **_: object) -> None:
    if total is not None:
        steps["n"] = total


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--names", default="rotation,noise")
    parser.add_argument("--out")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    digits32.load(0)  # decoded once per process, as on the server
    docs = {}
    for name in args.names.split(","):
        experiment = EXPERIMENTS[name]
        config = experiment.configure("quick", 0)
        load = os.getloadavg()[0]
        start = time.perf_counter()
        steps = {"n": 0}
        doc = experiment.run(config, report=lambda *, steps=steps, **kw: _count(steps, **kw))
        wall = time.perf_counter() - start
        docs[name] = doc
        print(
            f"{name}: quick {wall:.1f} s with {args.threads} thread(s), {steps['n']} steps, "
            f"{wall / steps['n'] * 1000:.1f} ms/step, load {load:.1f} -> "
            f"{os.getloadavg()[0]:.1f}; estimate now {experiment.estimate['quick']} s"
        )
        if name == "noise":
            for key, s in doc["spread"].items():
                print(
                    f"  {key:<12} train {s['train_mean']:.1%} ({s['train_min']:.1%}-"
                    f"{s['train_max']:.1%}), validation {s['val_mean']:.1%} "
                    f"({s['val_min']:.1%}-{s['val_max']:.1%})"
                )
            for line in noise.conclusion(doc):
                print("  " + line)
        else:
            for key, s in doc["spread"].items():
                print(f"  up to {key:>3} degrees: 6 <-> 9 {s['six_nine_mean']:.1%}")
            print(f"  the confusion starts at {rotation.onset(doc)} degrees")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(docs, f)


if __name__ == "__main__":
    main()
