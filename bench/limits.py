"""Benchmark: what one student's request costs, for the cases issue 6 saw take the server down.

Each case runs in a fresh interpreter (`--case NAME` re-invokes this script), after the imports
and one small warm-up analysis, so its figures are its own: wall seconds and the peak resident
memory it adds (the kernel's peak-RSS mark is reset before the case through
/proc/self/clear_refs and read from VmHWM after it). `--repo PATH` runs the cases against
another checkout of cnnviz (e.g. the commit before the fix, `git archive` into a folder), so
before and after come from the same script on the same machine. Prints figures; asserts
nothing.

    python bench/limits.py [--repo PATH] [--cases a,b]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve()
REPO = HERE.parents[1]


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def _meta_summary(name: str, size: tuple[int, int, int]) -> None:
    """The analysis itself, past the limits: a meta build, then analyze_module."""
    import torch

    from cnnviz import registry
    from cnnviz.analysis import analyze_module

    with torch.device("meta"):
        model = registry.build(name, input_size=size)
    analyze_module(model, size, name)


def _analyze(name: str, size: tuple[int, int, int], **options: object) -> Callable[[], None]:
    def run() -> None:
        from cnnviz.analysis import analyze

        analyze(name, size, **options)

    return run


def _both(*runs: Callable[[], None]) -> Callable[[], None]:
    def run() -> None:
        for r in runs:
            r()

    return run


def _erf_click(side: int = 224) -> Callable[[], None]:
    """The receptive-field page's effective field of VGG-16, one click after the first (the
    model is already built and cached, as on a running server)."""
    import torch

    image = torch.randn(1, 3, side, side, generator=torch.Generator().manual_seed(0))
    try:
        from cnnviz.receptive_field.effective import effective_field_of

        def click() -> None:
            effective_field_of("vgg16", "features.29", (7, 7), image)
    except ImportError:  # before the shared-model policy: the page's cached model, copied
        from cnnviz.receptive_field.effective import effective_receptive_field
        from cnnviz.weights import untrained

        model = untrained("vgg16")

        def click() -> None:
            effective_receptive_field(model, "features.29", (7, 7), image)

    click()  # the first click builds the model
    return click


CASES: dict[str, tuple[str, Callable[[], Callable[[], None]]]] = {
    "summary_16000": (
        "summary alexnet_lecture 3x16000x16000, the analysis itself (past the limits)",
        lambda: lambda: _meta_summary("alexnet_lecture", (3, 16000, 16000)),
    ),
    "model_tab_20000": (
        "layer calculator, model tab: alexnet_lecture 3x20000x20000 (analyze)",
        lambda: _analyze("alexnet_lecture", (3, 20000, 20000)),
    ),
    "model_tab_2048": (
        "layer calculator, model tab: alexnet_lecture 3x2048x2048 (analyze)",
        lambda: _analyze("alexnet_lecture", (3, 2048, 2048)),
    ),
    "resnet_blocks_4096": (
        "ResNet page: basic vs bottleneck block, depth 4096 on 512x512",
        lambda: _both(
            _analyze("resnet_basic_block", (4096, 512, 512), planes=4096),
            _analyze("resnet_bottleneck_block", (4096, 512, 512), planes=1024),
        ),
    ),
    "inception_4096": (
        "GoogLeNet page: naive vs bottleneck module, depth 4096 on 512x512",
        lambda: _both(
            _analyze("inception_naive", (4096, 512, 512), c3x3=192),
            _analyze(
                "inception_bottleneck",
                (4096, 512, 512),
                c3x3=192,
                c3x3_reduce=64,
                c5x5_reduce=64,
                pool_proj=64,
            ),
        ),
    ),
    "erf_vgg16_click": ("effective field, VGG-16 at 224: one more click", _erf_click),
    "erf_vgg16_512": (
        "effective field, VGG-16 at 512x512 (the largest side allowed): one more click",
        lambda: _erf_click(512),
    ),
}


def run_case(name: str) -> dict[str, object]:
    """In the child: warm up, reset the peak, run the case once."""
    from cnnviz.analysis import analyze

    analyze("lenet5")  # imports and registry, not the case's cost
    prepare = CASES[name][1]()
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    base = _status_kib("VmRSS")
    start = time.perf_counter()
    outcome = "ok"
    try:
        prepare()
    except Exception as err:  # a refusal is a result too
        outcome = f"{type(err).__name__}: {str(err)[:70]}"
    seconds = time.perf_counter() - start
    peak = (_status_kib("VmHWM") - base) / 1024
    return {"seconds": seconds, "peak_mib": peak, "outcome": outcome}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, default=REPO, help="checkout of cnnviz to measure")
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--case", help=argparse.SUPPRESS)  # internal: run one case, print JSON
    args = parser.parse_args()
    if args.case:
        sys.path.insert(0, str(args.repo))
        print(json.dumps(run_case(args.case)))
        return
    print(f"cnnviz at {args.repo}; load average {os.getloadavg()[0]:.2f}")
    for name in args.cases.split(","):
        done = subprocess.run(
            [sys.executable, str(HERE), "--repo", str(args.repo), "--case", name],
            capture_output=True,
            text=True,
            cwd=args.repo,
        )
        if done.returncode:
            tail = (done.stderr.strip().splitlines() or ["?"])[-1][:90]
            print(f"{name:<20} died (exit {done.returncode}): {tail}")
            continue
        r = json.loads(done.stdout.strip().splitlines()[-1])
        print(
            f"{name:<20} {r['seconds']:7.2f} s {r['peak_mib']:8.0f} MiB  {r['outcome']}"
            f"\n{'':<20} {CASES[name][0]}"
        )


if __name__ == "__main__":
    main()
