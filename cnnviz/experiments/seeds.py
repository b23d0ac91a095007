"""Several seeds of one experiment inside one job: the seeds' list, the runs of each seed in
worker threads where the job's CPU threads allow, and the spread (mean, min, max, standard
deviation) of a measurement across the seeds, the yardstick an effect is measured against.

    results = over_seeds(lambda s: train_one_seed(s), seeds_from(3, 2))
    spread([0.93, 0.95, 0.94])  # {"mean": 0.94, "min": 0.93, "max": 0.95, "std": 0.0082}
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def seeds_from(first: int, count: int) -> list[int]:
    """`count` consecutive seeds from `first` (the page's seed input is the first)."""
    if count < 1:
        raise ValueError(f"count must be >= 1, not {count}")
    return [first + i for i in range(count)]


def workers(count: int) -> int:
    """Seeds trained at once: one per torch thread the job was given (the job runner gives a
    CPU job half the cores: 1 on the class's 2-core server, where seeds run one after the
    other; the command line has every core), never more than there are seeds."""
    import torch

    return max(1, min(count, torch.get_num_threads()))


def over_seeds(run: Callable[[int], T], seeds: Sequence[int], *, parallel: int = 1) -> list[T]:
    """[run(seed) for seed in seeds], in that order, `parallel` of them at once in threads
    (torch releases the GIL in its kernels). A Stopped raised in one (the job's Stop) comes out
    here; the others stop at their next report, which raises it too."""
    if parallel <= 1 or len(seeds) == 1:
        return [run(s) for s in seeds]
    with ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="cnnviz-seed") as pool:
        futures = [pool.submit(run, s) for s in seeds]
        return [f.result() for f in futures]


def spread(values: Sequence[float]) -> dict[str, float]:
    """Mean, min, max and the sample standard deviation (0 for one value) of `values`."""
    if not values:
        raise ValueError("no values")
    values = [float(v) for v in values]
    return {
        "mean": statistics.fmean(values),
        "min": min(values),
        "max": max(values),
        "std": statistics.stdev(values) if len(values) > 1 else 0.0,
    }


def overlaps(a: dict[str, float], b: dict[str, float]) -> bool:
    """Whether the seeds' ranges [min, max] of two spreads overlap: a difference between them
    is then within the spread of the seeds."""
    return a["min"] <= b["max"] and b["min"] <= a["max"]


def document(
    runs: list[dict[str, Any]],
    seeds: Sequence[int],
    per_seed: Sequence[list[dict[str, Any]]],
    spreads: dict[str, dict[str, float]],
) -> dict[str, Any]:
    """An experiment's JSON over several seeds: its "runs" (what the page draws first), the
    "seeds", each seed's own runs ("per_seed") and the "spread" of its measurements."""
    return {
        "runs": runs,
        "seeds": list(seeds),
        "per_seed": [{"seed": s, "runs": r} for s, r in zip(seeds, per_seed, strict=True)],
        "spread": spreads,
    }
