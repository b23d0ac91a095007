"""Benchmark: features extracted once per class (issue 21), side by side in one run.

A class linear-probes the built-in digits with resnet18 as the page runs it on a CPU server:
images at the page's CPU size (32), 3 epochs, the synthetic backbone from assets/ (random
weights without it), one job at a time with the runner's torch threads per job
(JobSettings.cpu_threads: 1 on 2 cores). A student's run is what pressing Train starts: the
page puts the dataset in the store (cnnviz.store.put_dataset: one copy for the class), the job
(finetune on the DatasetRef) reads it, builds the model, extracts or reuses the features,
trains the head. Everything goes to a store of the bench's own, emptied first. A built-in
dataset stays in the store between runs (private=False, as the page puts it).

1. Upload to first validation accuracy: the first student (the built-in dataset loaded, then
   the run: features extracted and stored) vs the second and later (features from the store),
   in this process and in a fresh worker process (a Ray worker, the server's other process:
   nothing of the model or the weights in memory yet). Target: later students < 1 s.
2. The server's CPU time (time.process_time: every thread of this process) from Train to the
   run's end, for one student (median of 3, each in a new store) and for a class of N (a new
   store: its first student extracts again), with the dataset already on the page; the class
   without the store is N times one student's. Target: class < 2x one student.

Prints figures; asserts nothing.

    python bench/feature_cache.py [--students 20]
    python bench/feature_cache.py --quick      # 4 students: a smoke test of the script
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import torch  # noqa: E402

from cnnviz import synthetic  # noqa: E402
from cnnviz.data import ImageDataset, digits  # noqa: E402
from cnnviz.jobs import JobSettings  # noqa: E402
from cnnviz.server.serve import settle  # noqa: E402
from cnnviz.store import DatasetRef, Store, put_dataset  # noqa: E402
from cnnviz.train import FinetuneConfig, finetune  # noqa: E402

SIZE = 32  # the page's image size on a CPU
EPOCHS = 3  # the page's default
STORE_BYTES = 2048 * 2**20


class Quiet:
    """A `report` that notes when the first validation accuracy arrives."""

    device = "cpu"
    stop_requested = False

    def __init__(self) -> None:
        self.first_accuracy_at: float | None = None

    def __call__(self, **kw: Any) -> None:
        metrics = kw.get("metrics")
        if self.first_accuracy_at is None and metrics and "val_accuracy" in metrics:
            self.first_accuracy_at = time.perf_counter()


@dataclass(frozen=True)
class Run:
    to_first_accuracy: float  # seconds from Train to the first validation accuracy
    cpu: float  # process CPU seconds from Train to the run's end
    reused: bool  # features read from the store
    timings: dict[str, float]
    learned: tuple[list[dict[str, float]], torch.Tensor]  # history, head weights (not the
    # 45 MB result: 20 of them held would make later runs pay page faults of their own)

    def same_as(self, other: Run) -> bool:
        return self.learned[0] == other.learned[0] and torch.equal(
            self.learned[1], other.learned[1]
        )


def config() -> FinetuneConfig:
    weights = "synthetic" if synthetic.available() else "none"
    return FinetuneConfig(
        weights=weights, strategy="linear", epochs=EPOCHS, image_size=SIZE, device="cpu"
    )


def student(data: ImageDataset, store: Store, ref: DatasetRef | None = None) -> Run:
    """One student's run from Train: put the dataset (unless `ref` is given), the job."""
    cpu0, t0 = time.process_time(), time.perf_counter()
    ref = ref or put_dataset(data, store, private=False)
    report = Quiet()
    result = finetune(ref, config(), report=report, store=store)
    first = (report.first_accuracy_at or time.perf_counter()) - t0
    cpu = time.process_time() - cpu0
    learned = (result.history, result.state_dict["fc.weight"].clone())
    return Run(first, cpu, "features_from_store" in result.timings, result.timings, learned)


def _worker(root: str, ref: DatasetRef, threads: int, out: Any) -> None:
    """A fresh process's run of a later student's job (imports done, nothing else warm)."""
    torch.set_num_threads(threads)
    store = Store(root, STORE_BYTES)
    run = student(None, store, ref)  # type: ignore[arg-type]
    out.put((run.to_first_accuracy, run.cpu, run.reused))


def in_fresh_process(data: ImageDataset, store: Store, threads: int) -> tuple[float, bool]:
    """A later student: the page's put here, the job in a new process; seconds, reused."""
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    t0 = time.perf_counter()
    ref = put_dataset(data, store, private=False)
    put = time.perf_counter() - t0
    proc = ctx.Process(target=_worker, args=(str(store.root), ref, threads, queue))
    proc.start()
    first, _cpu, reused = queue.get(timeout=600)
    proc.join()
    return put + first, reused


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=20)
    parser.add_argument("--fresh", type=int, default=3, help="later students in fresh processes")
    parser.add_argument("--quick", action="store_true", help="4 students, 1 fresh process")
    args = parser.parse_args()
    if args.quick:
        args.students, args.fresh = 4, 1
    threads = JobSettings.from_env().cpu_threads
    torch.set_num_threads(threads)
    c = config()
    print(
        f"digits at {SIZE}x{SIZE}, linear probe of resnet18 ({c.weights} weights), {EPOCHS} "
        f"epochs, cpu, {threads} torch thread(s) per job (the runner's); torch {torch.__version__}"
    )
    with tempfile.TemporaryDirectory(prefix="cnnviz-bench-store-") as root:
        store = Store(Path(root) / "a", STORE_BYTES)
        # --- 1. upload to first validation accuracy ---------------------------------------
        t0 = time.perf_counter()
        data = digits(SIZE)  # the built-in dataset: loaded once per server (cache_resource)
        loaded = time.perf_counter() - t0
        settle()  # as the launcher does after its warm-up (cnnviz.server.serve.settle)
        first = student(data, store)
        later = [student(data, store) for _ in range(max(args.students - 1, 1))]
        fresh = [in_fresh_process(data, store, threads) for _ in range(args.fresh)]
        same = all(r.same_as(first) for r in later)
        print(f"\n1. upload to first validation accuracy ({len(data):,} images)")
        print(f"   {'first student':<40} {loaded + first.to_first_accuracy:>7.2f} s")
        print(f"     {'built-in dataset loaded':<38} {loaded:>7.2f} s")
        print(
            f"     {'Train to first accuracy':<38} {first.to_first_accuracy:>7.2f} s   "
            f"(features extracted: {first.timings.get('features', 0):.2f} s)"
        )
        times = [r.to_first_accuracy for r in later]
        print(
            f"   {'later students, median (max)':<40} {statistics.median(times):>7.2f} s "
            f"({max(times):.2f})   features reused: {sum(r.reused for r in later)}/{len(later)}"
        )
        parts = ("dataset", "model", "features_from_store", "head")
        typical = {k: statistics.median(r.timings.get(k, 0.0) for r in later) for k in parts}
        words = {
            "dataset": "dataset read",
            "model": "model built",
            "features_from_store": "features read",
            "head": f"head, {EPOCHS} epochs",
        }
        print("     " + ", ".join(f"{words[k]} {v * 1000:.0f} ms" for k, v in typical.items()))
        fresh_times = [f for f, _ in fresh]
        print(
            f"   {'later, job in a fresh process, median':<40} "
            f"{statistics.median(fresh_times):>7.2f} s ({max(fresh_times):.2f})   "
            f"features reused: {sum(r for _, r in fresh)}/{len(fresh)}"
        )
        speedup = (loaded + first.to_first_accuracy) / statistics.median(times)
        print(
            f"   first / later: {speedup:.0f}x; later runs equal the first (head, history): {same}"
        )
        print("   target: later students under 1 s")

        # --- 2. the server's CPU for a class ---------------------------------------------
        ones = [student(data, Store(Path(root) / f"one{k}", STORE_BYTES)) for k in range(3)]
        one = sorted(ones, key=lambda r: r.cpu)[1]  # the median of 3, each in a new store
        class_store = Store(Path(root) / "class", STORE_BYTES)
        cpu0 = time.process_time()
        runs = [student(data, class_store) for _ in range(args.students)]
        class_cpu = time.process_time() - cpu0
        n = args.students
        print("\n2. server CPU from Train to the run's end (dataset on the page already)")
        print(
            f"   {'one student (median of 3)':<40} {one.cpu:>7.2f} CPU-s   "
            f"({', '.join(f'{r.cpu:.2f}' for r in ones)})"
        )
        print(
            f"   {f'class of {n} (shared store)':<40} {class_cpu:>7.2f} CPU-s   "
            f"= {class_cpu / one.cpu:.2f}x one   (first {runs[0].cpu:.2f}, later median "
            f"{statistics.median(r.cpu for r in runs[1:]):.3f})"
        )
        print(
            f"   {f'class of {n} without the store':<40} {n * one.cpu:>7.2f} CPU-s   "
            f"= {n:.2f}x one (each extracts)"
        )
        print(f"   built-in dataset load, once per server: {loaded:.2f} s")
        print("   target: class < 2x one student")


if __name__ == "__main__":
    main()
