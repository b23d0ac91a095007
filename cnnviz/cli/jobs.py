"""Command line, the jobs: `queue`, the class's job queue on Ray for an operator (its slots
and last jobs; JSON keys: a contract)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from cnnviz.cli.common import UsageError


def cmd_queue(args: argparse.Namespace) -> int:
    """The class's job queue on Ray: its slots and its last jobs (an operator's view)."""
    import datetime
    import os

    from cnnviz.jobs import ray_backend

    if not 1 <= args.last <= ray_backend.HISTORY:
        raise UsageError(f"--last must be between 1 and {ray_backend.HISTORY}, not {args.last}")
    address = args.address or os.environ.get("CNNVIZ_JOBS", "ray")
    if address == "threads":
        address = "ray"
    try:
        log = ray_backend.queue_log(address)
    except ImportError:
        raise UsageError("Ray is not installed: pip install -r requirements-ray.txt") from None
    if args.json:
        print(json.dumps(log))
        return 0
    print("slots: " + ", ".join(f"{k} {v}" for k, v in log["slots"].items()))

    def clock(t: float | None) -> str:
        return datetime.datetime.fromtimestamp(t).strftime("%H:%M:%S") if t else "-"

    print(f"{'job':8}{'function':24}{'queue':10}{'state':9}{'submitted':>10}{'waited':>8}"
          f"{'ran':>8}")  # fmt: skip
    for j in log["jobs"][-args.last :]:
        waited = (j["started"] or 0) - j["submitted"] if j["started"] else None
        ran = j["ended"] - j["started"] if j["ended"] and j["started"] else None
        print(
            f"{j['job']:8}{j['function'][:23]:24}{j['queue']:10}{j['state']:9}"
            f"{clock(j['submitted']):>10}{_seconds(waited):>8}{_seconds(ran):>8}"
        )
    return 0


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}s"


def add_commands(sub: Any) -> None:
    """This module's commands on the CLI's parser."""
    p = sub.add_parser(
        "queue", help="the class's job queue on Ray (CNNVIZ_JOBS=ray): slots and last jobs"
    )
    p.add_argument("--address", help="ray (the local instance) or ray://HOST:PORT")
    p.add_argument("--last", type=int, default=20, help="how many of the last jobs (default 20)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_queue)
