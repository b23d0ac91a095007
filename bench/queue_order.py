"""What the Ray benches (bench/jobs_ray.py, bench/class_queue.py) check of a 1-slot queue:
its jobs started in the order they arrived, and never two at once."""

from __future__ import annotations

import itertools
from typing import Any


def queue_order(jobs: list[dict[str, Any]], name: str) -> tuple[bool, list[float], list[float]]:
    """`jobs` in arrival order, each with its "started" and "ended" time and its `name` key:
    (started in that order, how far each started before the previous one ended (> 0: an
    overlap), the seconds from each one's end to the next one's start)."""
    by_start = sorted(jobs, key=lambda j: j["started"])
    in_order = [j[name] for j in by_start] == [j[name] for j in jobs]
    pairs = list(itertools.pairwise(by_start))
    overlaps = [a["ended"] - b["started"] for a, b in pairs]
    gaps = [b["started"] - a["ended"] for a, b in pairs]
    return in_order, overlaps, gaps
