"""Benchmark: what the job runner and per-step progress reporting cost a training loop.

Side by side in one run, alternating, medians of `--repeats`: the same loop of `--steps` steps
(a torch matmul sized to take about `--step-us` microseconds, like a small batch) run bare in
this thread, and run as a job on a JobRunner that calls `report(step=..., total=...,
metrics=...)` every step while a "page" thread reads `progress()` every `--poll` seconds (a
fragment's run_every). Also: one `report(...)` call alone, and one `progress()` snapshot with a
long metrics history. Prints figures; asserts nothing.

    python bench/jobs.py [--steps 1000] [--step-us 1000 200] [--repeats 3] [--poll 0.5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

from cnnviz.jobs import JobRunner, JobSettings, Reporter


def sized_work(step_us: float) -> Callable[[], None]:
    """A matmul whose size makes one call take about `step_us` microseconds here."""
    n = 8
    while True:
        a = torch.randn(n, n)
        t0 = time.perf_counter()
        for _ in range(20):
            a @ a
        took = (time.perf_counter() - t0) / 20 * 1e6
        if took >= step_us or n >= 2048:
            break
        n = int(n * 1.25) + 1
    return lambda: a @ a


def bare(work: Callable[[], None], steps: int) -> float:
    torch.set_num_threads(1)  # per thread (OpenMP): the job's thread sets it too
    t0 = time.perf_counter()
    for i in range(steps):
        work()
        loss = float(i)  # the loop's own bookkeeping, as in the job below
    del loss
    return time.perf_counter() - t0


def as_job(work: Callable[[], None], steps: int, *, report: Reporter) -> float:
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    for i in range(steps):
        work()
        report(step=i + 1, total=steps, metrics={"step": i + 1, "loss": float(i)})
    return time.perf_counter() - t0


def through_runner(work: Callable[[], None], steps: int, poll: float) -> float:
    """Wall time from submit to result, with a page thread polling progress()."""
    runner = JobRunner(JobSettings(per_session=2))
    t0 = time.perf_counter()
    handle = runner.submit(as_job, work, steps, session="bench", device="cpu")
    stop = threading.Event()

    def page() -> None:
        while not stop.wait(poll):
            handle.progress()

    poller = threading.Thread(target=page, daemon=True)
    poller.start()
    handle.result()
    took = time.perf_counter() - t0
    stop.set()
    poller.join()
    return took


def report_cost(calls: int) -> float:
    """Microseconds per report(...) call, the job doing nothing else."""

    def only_report(*, report: Reporter) -> float:
        t0 = time.perf_counter()
        for i in range(calls):
            report(step=i, total=calls, metrics={"loss": 0.5})
        return time.perf_counter() - t0

    runner = JobRunner()
    return runner.submit(only_report, session="bench", device="cpu").result() / calls * 1e6


def snapshot_cost(history: int) -> float:
    """Milliseconds per progress() with `history` metrics rows."""

    def fill(*, report: Reporter) -> None:
        for i in range(history):
            report(step=i, metrics={"epoch": i, "loss": 0.5, "accuracy": 0.9})

    runner = JobRunner()
    handle = runner.submit(fill, session="bench", device="cpu")
    handle.result()
    t0 = time.perf_counter()
    for _ in range(20):
        handle.progress()
    return (time.perf_counter() - t0) / 20 * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--step-us", type=float, nargs="+", default=[1000.0, 200.0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--poll", type=float, default=0.5)
    args = parser.parse_args()
    torch.set_num_threads(1)  # one core per loop: steadier figures on a shared machine

    print(f"torch threads 1, {args.steps} steps, page polls every {args.poll} s")
    print(f"{'step':>8} {'bare s':>8} {'job s':>8} {'job/bare':>9} {'added/step':>11}")
    for step_us in args.step_us:
        work = sized_work(step_us)
        through_runner(work, 50, args.poll)  # warm-up (thread start, imports)
        bares, jobs = [], []
        for _ in range(args.repeats):  # alternate, so drift hits both alike
            bares.append(bare(work, args.steps))
            jobs.append(through_runner(work, args.steps, args.poll))
        b, j = statistics.median(bares), statistics.median(jobs)
        added = (j - b) / args.steps * 1e6
        print(f"{step_us:>6.0f}us {b:>8.3f} {j:>8.3f} {j / b:>9.3f} {added:>9.1f}us")
    print(f"report(...) alone: {report_cost(100_000):.2f} us per call")
    for rows in (1_000, 10_000):
        print(f"progress() with {rows:,} metrics rows: {snapshot_cost(rows):.2f} ms")


if __name__ == "__main__":
    main()
