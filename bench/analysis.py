"""Benchmark: the meta-device summary (cnnviz.analysis) against torchinfo on a real CPU build.

For every registered model (or --models a,b), side by side in one run:
  meta: build under `with torch.device("meta")`, then `analyze_module` (no lru cache: the path
        `analyze` takes on a cache miss);
  cpu:  a real build, then `torchinfo.summary(model, input_size=(1, C, H, W), device="cpu")`.
Times are medians of --repeats runs after one warm-up; build+summary is the sum of the two medians.
Each (model, mode) runs in a fresh process forked after the imports (POSIX), so its peak memory
is its own. Memory is resident memory (torch's allocations are invisible to tracemalloc): the
kernel's peak-RSS mark is reset at the start (/proc/self/clear_refs) and read after one cold
build+summary, less the shared-library code pages the child maps meanwhile; where that reset
is not allowed, ru_maxrss minus its value at the start.
Prints figures; asserts nothing.

    python bench/analysis.py [--models vgg16,resnet50] [--quick] [--repeats N]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import statistics
import sys
import time
import traceback
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

# Imported once, before any child is forked; the parent runs no tensor op, so no thread pool
# exists yet when it forks.
import torch
import torchinfo

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # `python bench/analysis.py` from anywhere, even without `pip -e`

from cnnviz import registry  # noqa: E402
from cnnviz.analysis import analyze_module  # noqa: E402

QUICK_MODELS = ("lenet5", "alexnet", "vgg16", "googlenet", "resnet50")
TARGET_MODEL = "vgg16"
TARGET_WARM_MS = 50.0
TARGET_TIME_RATIO = 20.0
TARGET_MEMORY_RATIO = 5.0
SUMMARY_DEPTH = 10_000  # analyze_module's depth: every nested module, for a like-for-like table
MIB = 1024 * 1024
MODES = ("meta", "cpu")


# ---- measurement: runs in a fresh forked process for one (model, mode) ----------------------


def _status_kib(field: str) -> int | None:
    """A 'VmRSS'/'VmHWM' line of /proc/self/status, in KiB (None off Linux)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark to the current RSS (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


class PeakMemory:
    """Peak memory the work allocates above the level at construction time, in bytes.

    A forked child maps shared-library code lazily, so pages of torch's code that the parent
    had already loaded show up as new resident memory when the child runs them: file-backed
    growth is subtracted, leaving what the build and the summary allocate (weights,
    activations, Python objects).
    """

    def __init__(self) -> None:
        gc.collect()
        self.exact = _reset_peak_rss() and _status_kib("VmHWM") is not None
        if self.exact:
            self.start_kib = _status_kib("VmRSS") or 0
            self.start_file_kib = _status_kib("RssFile") or 0
        else:
            self.start_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    def grown(self) -> int:
        if not self.exact:
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            return max(peak - self.start_kib, 0) * 1024
        code = (_status_kib("RssFile") or 0) - self.start_file_kib
        return max((_status_kib("VmHWM") or 0) - self.start_kib - code, 0) * 1024


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def measure(name: str, mode: str, repeats: int) -> dict[str, Any]:
    """Peak memory of one cold build+summary, then warm medians of build and of summary."""
    size = tuple(registry.get(name).default_input)

    def build() -> torch.nn.Module:
        if mode == "meta":
            with torch.device("meta"):
                return registry.build(name)
        return registry.build(name)

    def summarize(model: torch.nn.Module) -> int:
        if mode == "meta":
            return analyze_module(model, size, label=name).total_params
        stats = torchinfo.summary(
            model,
            input_size=(1, *size),
            device="cpu",
            verbose=0,
            depth=SUMMARY_DEPTH,
            mode="eval",
        )
        return stats.total_params

    memory = PeakMemory()
    cold_build, model = _timed(build)
    cold_summary, params = _timed(partial(summarize, model))  # also the summary's warm-up
    peak = memory.grown()

    summary_s = [_timed(partial(summarize, model))[0] for _ in range(repeats)]
    build_s = []
    for _ in range(repeats):  # the cold build above was the warm-up
        model = None  # free the previous model first, as the app's cache miss would
        gc.collect()
        seconds, model = _timed(build)
        build_s.append(seconds)
    return {
        "model": name,
        "mode": mode,
        "input": list(size),
        "params": params,
        "threads": torch.get_num_threads(),
        "cold_s": cold_build + cold_summary,
        "build_s": statistics.median(build_s),
        "summary_s": statistics.median(summary_s),
        "peak_bytes": peak,
        "exact_peak": memory.exact,
    }


# ---- driver ------------------------------------------------------------------------------------


def in_fresh_process(name: str, mode: str, repeats: int) -> dict[str, Any]:
    """`measure` in a child forked after the imports, so its peak memory is its own."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: measure, send one JSON document, leave without cleanup handlers
        os.close(read)
        try:
            result = measure(name, mode, repeats)
        except BaseException:
            result = {"error": traceback.format_exc()}
        with os.fdopen(write, "w") as out:
            json.dump(result, out)
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as reply:
        text = reply.read()
    os.waitpid(pid, 0)
    result = json.loads(text) if text else {"error": "the child process died"}
    if "error" in result:
        raise RuntimeError(f"{name} ({mode}) failed:\n{result['error']}")
    return result


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f}"


def ratio(slow: float, fast: float, floor: float) -> str:
    """slow / fast, with `fast` floored so a near-zero figure reads as a lower bound ('>')."""
    if fast >= floor:
        return f"{slow / fast:,.1f}x"
    return f">{slow / floor:,.0f}x" if slow >= floor else "both~0"


def report(rows: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
    """One line per model: meta vs cpu times (ms), build+summary ratio, peak memory (MiB)."""
    header = (
        f"{'model':<24}{'input':>12} | {'meta build':>10}{'summary':>9}{'total':>9} | "
        f"{'cpu build':>10}{'summary':>10}{'total':>10} | {'time x':>8}{'sum x':>8} | "
        f"{'meta MiB':>9}{'cpu MiB':>9}{'mem x':>8}"
    )
    print(header)
    print("-" * len(header))
    for meta, cpu in rows:
        meta_total = meta["build_s"] + meta["summary_s"]
        cpu_total = cpu["build_s"] + cpu["summary_s"]
        c, h, w = meta["input"]
        print(
            f"{meta['model']:<24}{f'{h}x{w}x{c}':>12} | "
            f"{ms(meta['build_s']):>10}{ms(meta['summary_s']):>9}{ms(meta_total):>9} | "
            f"{ms(cpu['build_s']):>10}{ms(cpu['summary_s']):>10}{ms(cpu_total):>10} | "
            f"{ratio(cpu_total, meta_total, 1e-4):>8}"
            f"{ratio(cpu['summary_s'], meta['summary_s'], 1e-4):>8} | "
            f"{meta['peak_bytes'] / MIB:>9,.1f}{cpu['peak_bytes'] / MIB:>9,.1f}"
            f"{ratio(cpu['peak_bytes'], meta['peak_bytes'], MIB):>8}"
        )
        if meta["params"] != cpu["params"]:
            print(f"  ! parameter counts differ: meta {meta['params']:,} vs cpu {cpu['params']:,}")


def report_targets(rows: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
    """The lecture app's targets, judged on VGG16."""
    found = [(meta, cpu) for meta, cpu in rows if meta["model"] == TARGET_MODEL]
    if not found:
        print(f"targets: {TARGET_MODEL} not measured")
        return
    meta, cpu = found[0]
    meta_total = meta["build_s"] + meta["summary_s"]
    cpu_total = cpu["build_s"] + cpu["summary_s"]
    memory_x = cpu["peak_bytes"] / max(meta["peak_bytes"], MIB)  # a lower bound if floored

    def line(text: str, met: bool) -> None:
        print(f"  {'met ' if met else 'MISS'}  {text}")

    print(f"targets ({TARGET_MODEL}):")
    line(
        f"warm meta build+summary {ms(meta_total)} ms (summary alone {ms(meta['summary_s'])} ms)"
        f" < {TARGET_WARM_MS:.0f} ms",
        meta_total * 1000 < TARGET_WARM_MS,
    )
    line(
        f"CPU build+summary / meta build+summary = {cpu_total / meta_total:,.1f}x"
        f" >= {TARGET_TIME_RATIO:.0f}x",
        cpu_total / meta_total >= TARGET_TIME_RATIO,
    )
    line(
        f"CPU peak memory / meta peak memory = {ratio(cpu['peak_bytes'], meta['peak_bytes'], MIB)}"
        f" ({cpu['peak_bytes'] / MIB:,.1f} vs {meta['peak_bytes'] / MIB:,.1f} MiB)"
        f" >= {TARGET_MEMORY_RATIO:.0f}x",
        memory_x >= TARGET_MEMORY_RATIO,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", help="comma-separated registry names (default: all)")
    parser.add_argument("--quick", action="store_true", help=f"{', '.join(QUICK_MODELS)}; 2 runs")
    parser.add_argument("--repeats", type=int, help="timed runs per figure (default 3, quick 2)")
    args = parser.parse_args(argv)

    if args.models:
        names = [n.strip() for n in args.models.split(",") if n.strip()]
        for name in names:
            registry.get(name)  # fail early, with the list of known names
    else:
        names = list(QUICK_MODELS) if args.quick else registry.names()
    repeats = args.repeats or (2 if args.quick else 3)

    started, load_before = time.perf_counter(), os.getloadavg()[0]
    rows = []
    for name in names:
        meta, cpu = (in_fresh_process(name, mode, repeats) for mode in MODES)
        rows.append((meta, cpu))
        print(f"  measured {name}", file=sys.stderr, flush=True)
    exact = all(r["exact_peak"] for pair in rows for r in pair)
    how = (
        "peak RSS mark reset at the start, library code pages excluded"
        if exact
        else "ru_maxrss minus its value at the start"
    )
    print(
        f"Meta-device summary vs torchinfo on a CPU build: median of {repeats} warm runs, ms; "
        f"torch threads {rows[0][0]['threads']}; peak memory growth per fresh process, MiB "
        f"({how})"
    )
    print("time x = CPU build+summary / meta build+summary; sum x = summaries alone\n")
    report(rows)
    print()
    report_targets(rows)
    print(
        f"\n({len(names)} models in {time.perf_counter() - started:.0f} s"
        f" on {os.cpu_count()} cores;"
        f" 1-min load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after:"
        " other processes on the machine inflate the times)"
    )


if __name__ == "__main__":
    main()
