"""Benchmark: jobs on Ray (issue 21) against jobs in threads, side by side in one run.

1. The same linear-probe job (resnet18 with the synthetic backbone, 3 epochs, the built-in
   digits or a subset), on the thread backend and on the Ray backend, alternating: wall
   seconds per job, Ray's extra seconds and ratio. Target: under 20% and under 1 s per job.
2. How fast a page sees the job: a report's delay until `progress()` shows it, and the seconds
   from `stop()` to the job's end (at its next report; and for a job that never reports, by
   ending its worker). Targets: progress within 1 s, stop within 2 s.
3. Two server processes (each its own JobRunner with a RayBackend, as `make run-multi` runs
   them) on one local Ray head, 6 students starting a training job within 5 s on a 1-slot
   device, alternating between the processes: each job's submit, start and end times; at most
   one runs at any moment, in arrival order across both processes.

Prints figures; asserts nothing.

    python bench/jobs_ray.py [--images 500] [--repeats 3] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import torch  # noqa: E402
from queue_order import queue_order  # noqa: E402

from cnnviz.data import builtin  # noqa: E402
from cnnviz.jobs import JobRunner, JobSettings  # noqa: E402
from cnnviz.train import FinetuneConfig, finetune  # noqa: E402

STUDENTS = 6


def dataset(images: int):
    data = builtin.digits(64)
    g = torch.Generator().manual_seed(0)
    keep = torch.randperm(len(data), generator=g)[:images].sort().values
    data.images, data.labels = data.images[keep], data.labels[keep]
    return data


def config(side: int) -> FinetuneConfig:
    return FinetuneConfig(weights="synthetic", strategy="linear", epochs=3, image_size=side)


def extracting_finetune(data, cfg, *, report):
    """The fine-tune job with a store of its own, empty: it extracts the features every run
    (as the first student of a class does)."""
    from cnnviz.store.disk import Store

    with tempfile.TemporaryDirectory() as folder:
        return finetune(data, cfg, report=report, store=Store(folder, 2**30))


def timed(runner: JobRunner, job, data, cfg) -> float:
    start = time.perf_counter()
    runner.submit(job, data, cfg, session="bench", device="cpu").result(timeout=900)
    return time.perf_counter() - start


def overhead(images: int, side: int, repeats: int, settings: JobSettings) -> None:
    from cnnviz.jobs.ray_backend import RayBackend

    data, cfg = dataset(images), config(side)
    threads = JobRunner(JobSettings(cpu_threads=settings.cpu_threads))
    ray_runner = JobRunner(settings, backend=RayBackend(settings, name="cnnviz-bench"))
    timed(ray_runner, finetune, data, cfg)  # the first Ray task starts a worker: warm
    timed(threads, finetune, data, cfg)
    for job, what in (
        (extracting_finetune, "features extracted every run (a class's first student)"),
        (finetune, "features from the store (every later student)"),
    ):
        t, r = [], []
        for _ in range(repeats):
            t.append(timed(threads, job, data, cfg))
            r.append(timed(ray_runner, job, data, cfg))
        mt, mr = statistics.median(t), statistics.median(r)
        print(f"\n1. linear probe, {images} digits at {side} px, 3 epochs, {what}, {repeats} runs")
        print(f"   threads: {mt:.2f} s (runs {', '.join(f'{x:.2f}' for x in t)})")
        print(f"   Ray:     {mr:.2f} s (runs {', '.join(f'{x:.2f}' for x in r)})")
        print(f"   Ray adds {mr - mt:+.2f} s a job, {100 * (mr / mt - 1):+.0f}%")


def counting(n, delay, *, report):
    for i in range(n):
        time.sleep(delay)
        report(step=i + 1, total=n, message=repr(time.time()))
    return n


def sleeping(*, report):
    report(message=repr(time.time()))
    time.sleep(600)


def latencies(settings: JobSettings) -> None:

    from cnnviz.jobs.ray_backend import RayBackend

    runner = JobRunner(settings, backend=RayBackend(settings, name="cnnviz-bench"))
    handle = runner.submit(counting, 400, 0.05, session="bench")
    delays, last = [], None
    deadline = time.monotonic() + 60
    while len(delays) < 40 and time.monotonic() < deadline:
        message = handle.progress().message
        if message and message != last:
            delays.append(time.time() - float(message))
            last = message
        time.sleep(0.01)
    start = time.perf_counter()
    handle.stop()
    handle.done(timeout=30)
    stop_reporting = time.perf_counter() - start
    silent = runner.submit(sleeping, session="bench")
    while not silent.progress().message:
        time.sleep(0.05)
    start = time.perf_counter()
    silent.stop()
    silent.done(timeout=30)
    stop_silent = time.perf_counter() - start
    delays.sort()
    print("\n2. what a page sees (a job reporting every 50 ms)")
    print(
        f"   progress delay: median {statistics.median(delays):.2f} s, "
        f"max {delays[-1]:.2f} s over {len(delays)} reports"
    )
    print(f"   stop -> ended: {stop_reporting:.2f} s at a report, {stop_silent:.2f} s silent")


def timed_finetune(data, cfg, *, report):
    """The fine-tune job, with when it ran by the worker's clock."""
    started = time.time()
    result = finetune(data, cfg, report=report)
    return {"started": started, "ended": time.time(), "accuracy": result.val_accuracy}


SERVER = """
import json, sys, time
sys.path.insert(0, {repo!r})
sys.path.insert(0, {bench!r})
from ray import cloudpickle
from cnnviz.jobs import JobRunner, JobSettings
from cnnviz.jobs.ray_backend import RayBackend
import jobs_ray
cloudpickle.register_pickle_by_value(jobs_ray)  # Ray's workers do not see bench/
settings = JobSettings(cpu_threads=1, backend="ray")
runner = JobRunner(settings, backend=RayBackend(settings, name="cnnviz-bench-multi"))
data, cfg = jobs_ray.dataset({images}), jobs_ray.config({side})
start_at = {start_at}
handles = []
for student, offset in {plan}:
    time.sleep(max(0.0, start_at + offset - time.time()))
    submitted = time.time()
    h = runner.submit(jobs_ray.timed_finetune, data, cfg, session=student, device="cpu")
    handles.append((student, submitted, h))
out = [dict(student=s, submitted=t, **h.result(timeout=1800)) for s, t, h in handles]
print(json.dumps(out))
"""


def two_processes(images: int, side: int) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("run_multi", REPO / "deploy" / "run_multi.py")
    run_multi = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = run_multi  # its dataclasses look their module up there
    spec.loader.exec_module(run_multi)
    import contextlib

    with contextlib.ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
        address = run_multi.ray_head(stack, os.cpu_count() or 1)
        env = {**os.environ, **run_multi.RAY_ENV, "RAY_ADDRESS": address, "CNNVIZ_JOBS": "ray"}
        start_at = time.time() + 25  # both processes have imported torch and joined by then
        # student i arrives at i * 0.8 s (6 within 5 s), alternating between the processes
        plans = {p: [(f"student{i}", i * 0.8) for i in range(p, STUDENTS, 2)] for p in (0, 1)}
        procs = []
        for p in (0, 1):
            script = Path(tmp) / f"server{p}.py"
            script.write_text(
                SERVER.format(repo=str(REPO), bench=str(REPO / "bench"), images=images,
                              side=side, start_at=start_at, plan=plans[p])
            )  # fmt: skip
            procs.append(
                subprocess.Popen(
                    [sys.executable, str(script)], env=env, stdout=subprocess.PIPE, text=True
                )
            )
        jobs = []
        for p, proc in enumerate(procs):
            out, _ = proc.communicate(timeout=1800)
            for job in json.loads(out.strip().splitlines()[-1]):
                jobs.append({**job, "process": p})
    jobs.sort(key=lambda j: j["submitted"])
    t0 = jobs[0]["submitted"]
    print(f"\n3. two server processes, one Ray head, {STUDENTS} students, a 1-slot CPU queue")
    print("   student   process  submitted  started   ended   (s after the first submit)")
    for j in jobs:
        print(
            f"   {j['student']:9} {j['process']:7}  {j['submitted'] - t0:9.2f} "
            f"{j['started'] - t0:8.2f} {j['ended'] - t0:7.2f}"
        )
    in_order, overlaps, gaps = queue_order(jobs, "student")
    overlaps = [round(o, 2) for o in overlaps if o > 0]
    print(f"   started in arrival order: {in_order}; overlaps (s): {overlaps or 'none'}")
    print(f"   between one job's end and the next one's start: {min(gaps):.2f}-{max(gaps):.2f} s")
    print(f"   submits spanned {jobs[-1]['submitted'] - t0:.2f} s")


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--side", type=int, default=112)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="100 images at 64 px, 1 repeat")
    args = parser.parse_args(argv)
    if args.quick:
        args.images, args.side, args.repeats = 100, 64, 1
    import ray

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    cpus = os.cpu_count() or 2
    ray.init(address="local", num_cpus=cpus, include_dashboard=False, namespace="cnnviz",
             log_to_driver=False)  # fmt: skip
    settings = JobSettings(cpu_threads=max(1, cpus // 2), backend="ray")
    from ray import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers do not see bench/
    print(f"{cpus} CPU cores, torch threads per job {settings.cpu_threads}")
    overhead(args.images, args.side, args.repeats, settings)
    latencies(settings)  # (Ray stays up: handles freed after a shutdown end the process)
    two_processes(args.images // 2, args.side)


if __name__ == "__main__":
    main(sys.argv[1:])
