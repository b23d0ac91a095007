"""Benchmark: one job queue for a class served by two processes behind nginx (issue 21).

`deploy/run_multi.py --processes 2` (a local Ray head, nginx in front), 6 students in
headless Chromium on the Transfer learning page (each browser lands on either process by
nginx's cookie), each clicking Train within 5 s (one every 0.8 s) on a 1-slot CPU queue. Their
jobs' submit, start and end times come from the queue itself (`python -m cnnviz queue`'s log):
at most one runs at any moment, in the order of the clicks, across both processes. The same
with `--jobs threads` (a queue per process) for comparison: there two jobs run at once.

Prints figures; asserts nothing. Needs nginx and Chromium.

    python bench/class_queue.py [--students 6] [--jobs ray,threads]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from appdriver import chromium, session  # noqa: E402
from queue_order import queue_order  # noqa: E402

SPEC = importlib.util.spec_from_file_location("run_multi", REPO / "deploy" / "run_multi.py")
run_multi = importlib.util.module_from_spec(SPEC)
sys.modules[SPEC.name] = run_multi
SPEC.loader.exec_module(run_multi)

MAIN = "[data-testid='stMain']"
SIDE, EPOCHS = 32, 1


async def set_number(page, label: str, value: int) -> None:
    field = page.locator(f"{MAIN} [data-testid='stNumberInput']").filter(has_text=label)
    box = field.locator("input")
    if await box.input_value() != str(value):
        await box.fill(str(value))
        await box.press("Enter")


async def wait_text(page, text: str, timeout_ms: int = 600_000) -> None:
    await page.wait_for_function(
        "t => document.querySelector('[data-testid=\"stMain\"]').innerText.includes(t)",
        arg=text,
        timeout=timeout_ms,
    )


async def student(browser, url: str, ready: asyncio.Event, go_at: list[float], i: int) -> dict:
    async with session(browser, url) as s:
        await s.open("transfer_learning")
        await set_number(s.page, "Image side", SIDE)
        await wait_text(s.page, f"{SIDE}x{SIDE}")
        await set_number(s.page, "Epochs", EPOCHS)
        await wait_text(s.page, "Trainable parameters")
        await asyncio.sleep(2)  # the estimate's probe and the last reruns settle
        ready.set()
        while not go_at:
            await asyncio.sleep(0.05)
        await asyncio.sleep(max(0.0, go_at[0] + 0.8 * i - time.time()))
        clicked = time.time()
        await s.page.get_by_role("button", name="Train", exact=True).click()
        await wait_text(s.page, "4. Results")
        return {"student": i, "clicked": clicked, "results": time.time()}


async def a_class(url: str, students: int) -> list[dict]:
    async with chromium() as browser:
        readies = [asyncio.Event() for _ in range(students)]
        go_at: list[float] = []
        tasks = [
            asyncio.create_task(student(browser, url, readies[i], go_at, i))
            for i in range(students)
        ]
        await asyncio.gather(*(r.wait() for r in readies))
        go_at.append(time.time() + 1)
        return await asyncio.gather(*tasks)


def measure(jobs: str, students: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        port = run_multi_free_port()
        with run_multi.cluster(2, "127.0.0.1", port, Path(folder), jobs=jobs) as running:
            clicks = asyncio.run(a_class(running.url, students))
            log = None
            if running.ray_address:
                os.environ.update(run_multi.RAY_ENV, RAY_ADDRESS=running.ray_address)
                from cnnviz.jobs import ray_backend

                log = ray_backend.queue_log("ray")
    t0 = min(c["clicked"] for c in clicks)
    print(f"\n{students} students, 2 processes behind nginx, jobs on {jobs}")
    print("   student  clicked  results  (s after the first click)")
    for c in sorted(clicks, key=lambda c: c["clicked"]):
        print(f"   {c['student']:7} {c['clicked'] - t0:8.2f} {c['results'] - t0:8.2f}")
    if log is None:
        ends = sorted(c["results"] - t0 for c in clicks)
        print(f"   (a queue per process: no common log) results at {[round(e, 1) for e in ends]}")
        return
    runs = [j for j in log["jobs"] if j["function"] == "finetune"]
    print("   job     submitted  started   ended")
    for j in runs:
        print(
            f"   {j['job']:7} {j['submitted'] - t0:9.2f} {j['started'] - t0:8.2f} "
            f"{j['ended'] - t0:7.2f}  {j['state']}"
        )
    in_order, overlaps, _ = queue_order(runs, "job")
    print(
        f"   started in submit order: {in_order}; at most one at a time: "
        f"{all(o <= 0 for o in overlaps)} (largest overlap {max(overlaps, default=0):+.2f} s)"
    )


def run_multi_free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, default=6)
    parser.add_argument("--jobs", default="ray,threads")
    args = parser.parse_args(argv)
    for jobs in args.jobs.split(","):
        measure(jobs, args.students)


if __name__ == "__main__":
    main(sys.argv[1:])
