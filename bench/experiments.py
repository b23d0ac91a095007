"""Benchmark: seconds per live experiment (cnnviz.experiments) at one size, each run once in
this process after the digits are loaded, with the figure each one shows the class. Issue 9's
target: every quick experiment under 30 s on 2 CPU cores. Prints figures; asserts nothing.

    python bench/experiments.py [--size quick|full|tiny] [--experiments rotation,noise]
                                [--threads N] [--seed S]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cnnviz.experiments import EXPERIMENTS, digits32, fit, summary_lines
from cnnviz.experiments.fit import no_report


def timed(name: str, size: str, seed: int) -> tuple[float, dict[str, Any]]:
    experiment = EXPERIMENTS[name]
    config = experiment.configure(size, seed)
    t0 = time.perf_counter()
    doc = experiment.run(config, report=no_report)
    return time.perf_counter() - t0, doc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="quick", choices=("tiny", "quick", "full"))
    parser.add_argument("--experiments", default=",".join(EXPERIMENTS))
    parser.add_argument(
        "--threads", type=int, default=fit.TRAIN_THREADS, help="intra-op threads while training"
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    fit.TRAIN_THREADS = args.threads
    digits32.load(args.seed)  # decoding the digits is the first job's cost, not the experiment's
    print(
        f"size {args.size}, seed {args.seed}, training threads {fit.TRAIN_THREADS}, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    for name in args.experiments.split(","):
        seconds, doc = timed(name, args.size, args.seed)
        print(f"\n{name}: {seconds:.1f} s")
        for line in summary_lines(name, doc):
            print(f"  {line}")


if __name__ == "__main__":
    main()
