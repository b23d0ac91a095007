"""Command line, the live experiments: `experiment NAME` (JSON keys: a contract)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from cnnviz.cli.common import UsageError


def cmd_experiment(args: argparse.Namespace) -> int:
    from cnnviz.experiments import EXPERIMENTS, summary_lines  # torch training: only here

    # Checked here, not by argparse, so a bad value is one line (argparse adds its usage).
    if args.name not in EXPERIMENTS:
        raise UsageError(f"unknown experiment {args.name!r}; experiments: {', '.join(EXPERIMENTS)}")
    if args.quick and args.size not in (None, "quick"):
        raise UsageError(f"--quick and --size {args.size} contradict each other")
    try:
        seed = int(args.seed)
    except ValueError:
        raise UsageError(f"--seed must be a whole number, not {args.seed!r}") from None
    size = "quick" if args.quick else args.size or "full"
    experiment = EXPERIMENTS[args.name]
    config = experiment.configure(size, seed)
    from cnnviz.train.progress import TqdmReporter  # the same bars as finetune's

    report = TqdmReporter("cpu")
    try:
        doc = experiment.run(config, report=report)
    finally:
        report.close()
    if args.json:
        print(json.dumps(doc))
    else:
        print("\n".join(summary_lines(args.name, doc)))
    return 0


def add_commands(sub: Any) -> None:
    """This module's commands on the CLI's parser."""
    p = sub.add_parser("experiment", help="run one of the lecture's live training experiments")
    p.add_argument("name", help="rotation, noise, augment or degradation")
    p.add_argument(
        "--quick",
        action="store_true",
        help="the class setting (under a minute each on an idle 2-core machine)",
    )
    p.add_argument("--size", help="tiny, quick or full (default: full); tiny is a smoke run")
    p.add_argument("--seed", default="0", help="same seed, same numbers (0 to 9,999)")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.set_defaults(run=cmd_experiment)
