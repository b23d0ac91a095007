"""Benchmark: a class of N students at once on a server of its own, one Streamlit process or
several behind nginx.

For each entry of --processes (1: `python -m cnnviz.ui.serve` as `make run`; N > 1:
deploy/run_multi.py, N processes behind nginx with sticky sessions), a fresh server; one
session tours the pages first (the lecturer's rehearsal: RSS after the first session), then
at the same moment:
- N students (browser contexts in one headless Chromium, each its own Streamlit session)
  visit home, VGG, ResNet, GoogLeNet and receptive fields (first by URL, then by the
  sidebar) and change one widget on each;
- --trainers sessions upload a small zip on the transfer-learning page and train a linear
  probe for one epoch (16 px, random weights) through the job queue;
- --attributions sessions open the Explain page (saliency, integrated gradients, Grad-CAM on
  the default LeNet-5) and pick another class to explain.
Prints page-ready p50/p95/max per page and widget change, the server's CPU-seconds per page
view (utime+stime of every server process, nginx included, from /proc), its RSS (summed
over the processes) at start, after the first session, at peak and after everyone left, the
training jobs' queue wait and run time, the per-session folders left behind and errors
(exception boxes, tracebacks in the server log, websockets dropped by the server or proxy).
Asserts nothing; stops by itself (every wait is bounded).

    python bench/classroom.py [--sessions 20] [--trainers 2] [--attributions 1]
                              [--processes 1,2] [--linger 130] [--cold]

--linger S: after everyone left, wait S seconds (the sessions' server.disconnectedSessionTTL
in .streamlit/config.toml, plus a little), let one visitor in (Streamlit expires disconnected
sessions when its session store is next used) and measure RSS again: memory returning.
--cold: no rehearsal (the class meets a cold server; no RSS after the first session).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import re
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from appdriver import (
    CLASS_TOUR,
    REPO,
    Server,
    Session,
    chromium,
    load_average,
    serve,
    session,
    tour,
)

P95_TARGET_S = 10.0
CPU_TARGET_S = 0.1
TRAIN_TIMEOUT_S = 600.0  # queued behind the other trainers on a busy 2-core machine
MAIN = '[data-testid="stMain"]'
TRAIN_KEY = "transfer_learning_"


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@dataclass
class Class:
    """What every session of one run adds to."""

    times: dict[str, list[float]] = field(default_factory=dict)
    runs: dict[str, list[float]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    dropped: int = 0
    views: int = 0
    jobs: list[dict[str, float | str]] = field(default_factory=list)

    def add(self, what: str, seconds: float | None) -> None:
        if seconds is not None:  # None: the action had nothing to change
            self.times.setdefault(what, []).append(seconds)


SHOTS: list[Path] = []  # --logs: where a failed session's screenshot goes


async def _guarded(s: Session, room: Class, work) -> None:
    try:
        await work
    except Exception as err:  # a timeout is a finding, not a crash of the benchmark
        room.errors.append(f"{type(err).__name__}: {str(err)[:160]}")
        if SHOTS:
            shot = SHOTS[0] / f"failed-{len(room.errors)}.png"
            with contextlib.suppress(Exception):
                await s.page.screenshot(path=shot)
                room.errors.append(f"  screenshot: {shot}")
    room.errors.extend(s.errors)
    room.dropped += s.dropped


async def student(browser, url: str, room: Class) -> None:
    async with session(browser, url) as s:
        await _guarded(s, room, tour(s, CLASS_TOUR, room.times, room.runs))
        room.views += len(CLASS_TOUR)


# --- a trainer: the transfer-learning page ---------------------------------------------------
async def _main_text(s: Session) -> str:
    return await s.page.locator(MAIN).inner_text()


async def _wait_text(s: Session, text: str, timeout_s: float = 180) -> None:
    await s.page.wait_for_function(
        "t => document.querySelector('[data-testid=\"stMain\"]').innerText.includes(t)",
        arg=text,
        timeout=timeout_s * 1000,
    )


async def _set_number(s: Session, key: str, value: int) -> float | None:
    """Seconds to page-ready after entering `value`; None when the field already holds it
    (nothing reruns: no timed estimate run stands in for one any more)."""
    field_ = s.page.locator(f".st-key-{key} input")
    if await field_.input_value() == str(value):
        return None
    await field_.fill(str(value))
    return await s.timed(lambda: field_.press("Enter"))


async def _pick_source(s: Session, room: Class, label: str, shows) -> None:
    """Click the data source `label` until `shows` appears. A click was lost when a timed
    fragment rerun (the estimate panel polling its probe) reached the server just after the
    click's run had finished: Streamlit started a new ScriptRunner and dropped the finished
    run's page. The estimate no longer polls; a job panel still does. Each loss is an error."""
    source = s.page.locator(f"{MAIN} label").filter(has_text=label).first
    other = s.page.locator(f"{MAIN} label").filter(has_text="Digits (built in)").first
    for attempt in range(3):
        if attempt:
            room.errors.append(f"a click on '{label}' was lost (nothing rerun after 30 s)")
            await other.click()
            await s.page.wait_for_timeout(2000)
        await source.click()
        try:
            await shows.wait_for(state="attached", timeout=30_000)
            return
        except Exception:
            continue
    raise TimeoutError(f"'{label}' never took effect")


async def _train(s: Session, room: Class) -> None:
    from tests.test_transfer_learning_page import tiny_zip  # 12 PNGs of 16x16, 2 classes

    room.add("Transfer learning: page", await s.open("transfer_learning"))
    room.add("Transfer learning: image side 16", await _set_number(s, TRAIN_KEY + "image_size", 16))
    await _wait_text(s, "16x16")
    upload = s.page.locator(f"{MAIN} [data-testid='stFileUploader'] input[type='file']").first
    await _pick_source(s, room, "Upload a .zip", upload)
    zipped = {"name": "shapes.zip", "mimeType": "application/zip", "buffer": tiny_zip()}
    room.add(
        "Transfer learning: upload a zip",
        await s.timed(lambda: upload.set_input_files(files=[zipped])),
    )
    await _wait_text(s, "files skipped")
    if "Random initialization: what" not in await _main_text(s):  # ImageNet's file is here
        random_init = s.page.get_by_text("Random initialization", exact=True)
        await s.timed(random_init.click)
        await _wait_text(s, "Random initialization: what")
    room.add("Transfer learning: epochs 1", await _set_number(s, TRAIN_KEY + "epochs", 1))
    await _wait_text(s, "Trainable parameters")
    room.views += 1
    clicked = time.perf_counter()
    await s.page.get_by_role("button", name="Train", exact=True).click()
    started = finished = None
    deadline = time.monotonic() + TRAIN_TIMEOUT_S
    while finished is None:
        if time.monotonic() > deadline:
            raise TimeoutError(f"no results within {TRAIN_TIMEOUT_S:.0f} s of the click")
        text = await _main_text(s)
        now = time.perf_counter()
        if (
            started is None
            and "Waiting for the" not in text
            and ("Starting on the" in text or "so far" in text or "4. Results" in text)
        ):
            started = now
        if "4. Results" in text:
            finished = now
        await s.page.wait_for_timeout(200)
    room.jobs.append(
        {"queue_s": (started or finished) - clicked, "run_s": finished - (started or finished)}
    )


async def trainer(browser, url: str, room: Class) -> None:
    async with session(browser, url) as s:
        s.timeout_s = TRAIN_TIMEOUT_S
        await _guarded(s, room, _train(s, room))


# --- an attribution: the Explain page ---------------------------------------------------------
async def _attribute(s: Session, room: Class) -> None:
    room.add("Explain: page (3 attributions)", await s.open("explain"))
    target = s.page.locator("[class*='st-key-explain_target_']").first
    await target.locator("button[aria-label=Open]").click()
    other = s.page.locator("[role=option]").nth(1)
    room.add("Explain: another class", await s.timed(other.click))
    room.views += 1


async def attributor(browser, url: str, room: Class) -> None:
    async with session(browser, url) as s:
        await _guarded(s, room, _attribute(s, room))


# --- one server, one class ---------------------------------------------------------------------
@dataclass
class Result:
    processes: int
    room: Class
    cpu: float
    wall: float
    rss: dict[str, float]
    tracebacks: int
    folders: dict[str, int]
    rehearsal_cpu: float | None = None


def _workspaces(tmp: Path) -> int:
    """Per-session folders (cnnviz.data.Workspace: cnnviz-*) still in the server's TMPDIR."""
    return sum(1 for _ in tmp.glob("cnnviz-*"))


async def _linger(browser, server: Server, seconds: float, rss: dict[str, float]) -> None:
    await asyncio.sleep(seconds)
    async with session(browser, server.url) as s:  # the store expires idle sessions on use
        await s.open("")
    await asyncio.sleep(2)
    rss[f"after {seconds:.0f} s"] = server.rss() / 1e6


async def one_server(args: argparse.Namespace, processes: int, tmp: Path) -> Result:
    server_tmp = tmp / f"tmp-{processes}"
    server_tmp.mkdir(exist_ok=True)
    log = tmp / f"server-{processes}.log"
    with serve(log, processes=processes, env={"TMPDIR": str(server_tmp)}) as server:
        async with chromium() as browser:
            rss = {"start": server.rss() / 1e6}
            print(f"\n[{processes} process(es)] server up; load {load_average()}", flush=True)
            rehearsal_cpu = None
            if not args.cold:
                cpu0 = server.cpu()
                await student(browser, server.url, Class())
                rehearsal_cpu = server.cpu() - cpu0
                await asyncio.sleep(2)
                rss["after the first session"] = server.rss() / 1e6
                server.peak_rss = 0
            room = Class()
            cpu0, t0 = server.cpu(), time.perf_counter()
            await asyncio.gather(
                *(student(browser, server.url, room) for _ in range(args.sessions)),
                *(trainer(browser, server.url, room) for _ in range(args.trainers)),
                *(attributor(browser, server.url, room) for _ in range(args.attributions)),
            )
            cpu, wall = server.cpu() - cpu0, time.perf_counter() - t0
            rss["peak"] = server.peak_rss / 1e6
            await asyncio.sleep(2)
            rss["after all left"] = server.rss() / 1e6
            folders = {"after all left": _workspaces(server_tmp)}
            if args.linger:
                await _linger(browser, server, args.linger, rss)
                folders[f"after {args.linger:.0f} s"] = _workspaces(server_tmp)
            tracebacks = server.tracebacks()
    return Result(processes, room, cpu, wall, rss, tracebacks, folders, rehearsal_cpu)


def report(r: Result, args: argparse.Namespace) -> None:
    room = r.room
    print(
        f"\n== {r.processes} process(es){' behind nginx' if r.processes > 1 else ''}: "
        f"{args.sessions} students, {args.trainers} trainers, {args.attributions} attributions "
        f"at once; load average after {load_average()}"
    )
    if r.rehearsal_cpu is not None:
        print(f"rehearsal (1 session, cold server): {r.rehearsal_cpu:.1f} CPU-s")
    print(f"{'page-ready (s)':36} {'n':>3} {'p50':>6} {'p95':>6} {'max':>6}   run end: p50 p95")
    for what, values in room.times.items():
        ran = room.runs.get(what) or [math.nan]
        print(
            f"{what:36} {len(values):3} {statistics.median(values):6.2f} "
            f"{quantile(values, 0.95):6.2f} {max(values):6.2f}   "
            f"{statistics.median(ran):6.2f} {quantile(ran, 0.95):6.2f}"
        )
    print("(run end: until the script run finished, before the browser drew the page)")
    views = max(room.views, 1)
    print(
        f"server CPU {r.cpu:.1f} s (all processes, training included) for {room.views} page "
        f"views with their widget changes: {r.cpu / views:.3f} CPU-s per page view "
        f"(target < {CPU_TARGET_S}); wall {r.wall:.1f} s"
    )
    worst = max(quantile(v, 0.95) for v in room.times.values()) if room.times else math.nan
    print(f"worst p95 {worst:.2f} s (target < {P95_TARGET_S:.0f} s)")
    print("server RSS (MB, summed): " + ", ".join(f"{k} {v:.0f}" for k, v in r.rss.items()))
    for n, job in enumerate(room.jobs, 1):
        print(f"training job {n}: queue wait {job['queue_s']:.1f} s, run {job['run_s']:.1f} s")
    print(
        "per-session folders (cnnviz.data.Workspace) in the server's TMPDIR: "
        + ", ".join(f"{k} {v}" for k, v in r.folders.items())
    )
    print(
        f"errors: {len(room.errors)} in pages ({room.dropped} dropped websockets), "
        f"{r.tracebacks} tracebacks in the server log"
    )
    for e in room.errors[:10]:
        print(f"  {e}")


def compare(results: list[Result]) -> None:
    if len(results) < 2:
        return
    print("\n== comparison (p95 page-ready in s, per row)")
    rows = sorted({w for r in results for w in r.room.times})
    print(f"{'':36} " + " ".join(f"{f'{r.processes} proc':>9}" for r in results))
    for what in rows:
        cells = [r.room.times.get(what) for r in results]
        p95 = [quantile(c, 0.95) if c else math.nan for c in cells]
        print(f"{what:36} " + " ".join(f"{v:9.2f}" for v in p95))
    print(f"{'CPU-s per page view':36} " + " ".join(
        f"{r.cpu / max(r.room.views, 1):9.3f}" for r in results))  # fmt: skip
    print(f"{'RSS peak (MB)':36} " + " ".join(f"{r.rss['peak']:9.0f}" for r in results))
    print(f"{'errors':36} " + " ".join(
        f"{len(r.room.errors) + r.tracebacks:9d}" for r in results))  # fmt: skip


def nginx_present() -> bool:
    sys.path.insert(0, str(REPO / "deploy"))
    from run_multi import nginx_binary

    return nginx_binary() is not None


async def main(args: argparse.Namespace) -> list[Result]:
    results: list[Result] = []
    with tempfile.TemporaryDirectory() as tmp:
        where = args.logs or Path(tmp)
        where.mkdir(parents=True, exist_ok=True)
        if args.logs:
            SHOTS.append(args.logs)
        for processes in args.processes:
            if processes > 1 and not nginx_present():
                print(
                    f"\n[{processes} processes] skipped: nginx is missing "
                    "(`apt-get install -y nginx`); the multi-process comparison needs it"
                )
                continue
            result = await one_server(args, processes, where)
            report(result, args)
            results.append(result)
    compare(results)
    if args.json:
        args.json.write_text(json.dumps([summary(r) for r in results], indent=1))
    return results


def summary(r: Result) -> dict:
    """What --json writes: one server's figures (times in s, memory in MB)."""
    return {
        "processes": r.processes,
        "times": r.room.times,
        "views": r.room.views,
        "cpu_s": r.cpu,
        "rss_mb": r.rss,
        "jobs": r.room.jobs,
        "workspaces": r.folders,
        "errors": r.room.errors,
        "dropped_websockets": r.room.dropped,
        "tracebacks": r.tracebacks,
    }


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--trainers", type=int, default=0)
    parser.add_argument("--attributions", type=int, default=0)
    parser.add_argument(
        "--processes",
        type=lambda text: [int(p) for p in re.split(r"[,\s]+", text.strip())],
        default=[1],
        help="comma-separated: 1,2 compares one process with two behind nginx",
    )
    parser.add_argument("--linger", type=float, default=0, help="seconds; see above")
    parser.add_argument("--logs", type=Path, help="keep the server logs in this folder")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--cold", action="store_true", help="no rehearsal before the class")
    parser.add_argument("--warm", action="store_true", help=argparse.SUPPRESS)  # the default now
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.stdout.reconfigure(line_buffering=True)  # progress shows when written to a file
    asyncio.run(main(parse()))
