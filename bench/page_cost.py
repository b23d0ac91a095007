"""Benchmark: the server's CPU-seconds per warm page view, page by page, for one student.

Starts the app (like bench/classroom.py: `python -m cnnviz.server.serve`) from each `--repo`
checkout, lets one headless Chromium session tour the class's pages once to fill the caches
(the lecturer's rehearsal), then, `--repeats` times, alternating between the checkouts, lets a
fresh session (a new browser context: a new student) tour them again: home by URL, VGG,
ResNet, GoogLeNet and receptive fields from the sidebar, one widget change on each
(`appdriver.CLASS_TOUR`). For every step it reads the server's CPU (utime + stime of its
process tree from /proc, so the browser's own work does not count) and the bytes the server
sent over the session's websocket. A page view is a page and its widget change, as in
classroom.py's "CPU-s per page view"; the new session's HTTP requests (the frontend's files)
count in home's, its end (the context closed) is a row of its own.

    python bench/page_cost.py [--repeats 5] [--repo /tmp/old_checkout] [--repo .] [--json F]
    python bench/page_cost.py --repeats 10 --profile /tmp/stacks.txt   # py-spy, raw stacks

Prints medians per step, per page and per page view, and the load average; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from appdriver import (
    CLASS_TOUR,
    REPO,
    Session,
    _free_port,
    chromium,
    cpu_seconds,
    load_average,
    session,
    stop_group,
    wait_until_healthy,
)

from cnnviz.server.serve import command as serve_command

SETTLE_S = 0.3  # after page-ready: let the server finish what the run left (sends, cleanup)


@dataclass
class Server:
    repo: Path
    url: str
    process: subprocess.Popen

    def cpu(self) -> float:
        return cpu_seconds(self.process.pid)


@contextlib.contextmanager
def serve(repo: Path, log: Path, start_timeout_s: float = 120) -> Iterator[Server]:
    """The app of checkout `repo` (its own cnnviz and .streamlit/config.toml) on a free port."""
    port = _free_port()
    command = serve_command(port)
    if not (repo / "cnnviz" / "server" / "serve.py").exists():  # a checkout before issue 20
        command[command.index("cnnviz.server.serve")] = "cnnviz.ui.serve"
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            cwd=repo,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "PYTHONPATH": str(repo)},
        )
    server = Server(repo=repo, url=f"http://127.0.0.1:{port}", process=process)
    try:
        wait_until_healthy(server.url, process, log, start_timeout_s)
        yield server
    finally:
        stop_group(process)


@dataclass
class Sent:
    """Bytes the server sent over the app's websocket (what the browser received)."""

    total: int = 0

    def watch(self, websocket: Any) -> None:
        if websocket.url.endswith("/_stcore/stream"):
            websocket.on("framereceived", self._received)

    def _received(self, payload: bytes | str) -> None:
        self.total += len(payload)


@dataclass
class Costs:
    """Per step name: the CPU-s and websocket bytes of every measured tour."""

    cpu: dict[str, list[float]] = field(default_factory=dict)
    sent: dict[str, list[int]] = field(default_factory=dict)
    tours: int = 0

    def add(self, step: str, cpu: float, sent: int) -> None:
        self.cpu.setdefault(step, []).append(cpu)
        self.sent.setdefault(step, []).append(sent)


@contextlib.asynccontextmanager
async def measured(browser: Any, server: Server) -> AsyncIterator[tuple[Session, Sent]]:
    async with session(browser, server.url) as s:
        sent = Sent()
        s.page.on("websocket", sent.watch)
        yield s, sent


async def tour(browser: Any, server: Server, costs: Costs | None) -> None:
    """One fresh session through CLASS_TOUR; each step's server CPU and bytes into `costs`."""
    cpu0 = server.cpu()
    async with measured(browser, server) as (s, sent):

        async def step(name: str, action: Any) -> None:
            nonlocal cpu0
            bytes0 = sent.total
            await action
            await asyncio.sleep(SETTLE_S)
            cpu = server.cpu()
            if costs is not None:
                costs.add(name, cpu - cpu0, sent.total - bytes0)
            cpu0 = cpu

        for n, page in enumerate(CLASS_TOUR):
            await step(f"{page.title}: page", s.open(page.path) if n == 0 else s.nav(page.path))
            if page.change is not None:
                await step(f"{page.title}: {page.widget}", page.change(s))
        if s.errors:
            print(f"  errors in {server.repo}: {s.errors}", flush=True)
    await asyncio.sleep(SETTLE_S)
    if costs is not None:
        costs.add("(session closed)", server.cpu() - cpu0, 0)
        costs.tours += 1


@contextlib.asynccontextmanager
async def lecturer(browser: Any, server: Server) -> AsyncIterator[None]:
    """A session left open on home for the whole run (not measured)."""
    async with session(browser, server.url) as s:
        await s.open("")
        yield


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def per_page(costs: Costs) -> dict[str, dict[str, float]]:
    """Per page (its view and widget change together): median CPU-s and kB, and their spread."""
    pages: dict[str, dict[str, float]] = {}
    for page in CLASS_TOUR:
        names = [n for n in costs.cpu if n.startswith(f"{page.title}: ")]
        sums = [sum(costs.cpu[n][i] for n in names) for i in range(costs.tours)]
        sent = [sum(costs.sent[n][i] for n in names) for i in range(costs.tours)]
        pages[page.title] = {
            "cpu_s": _median(sums),
            "cpu_min": min(sums),
            "cpu_max": max(sums),
            "kB": _median(sent) / 1e3,
        }
    return pages


def per_view(costs: Costs) -> float:
    """Median over tours of (the tour's whole CPU, session end included) / its page views."""
    totals = [sum(v[i] for v in costs.cpu.values()) for i in range(costs.tours)]
    return _median(totals) / len(CLASS_TOUR)


def mean_per_view(costs: Costs) -> float:
    """All the tours' CPU (sessions' ends included) over all their page views."""
    return sum(sum(v) for v in costs.cpu.values()) / (costs.tours * len(CLASS_TOUR))


def report(results: dict[str, Costs], loads: list[str]) -> None:
    names = list(results)
    print(f"\nload average: {' -> '.join(loads)}")
    width = max(len(n) for n in next(iter(results.values())).cpu) + 2
    print("\nper step: median server CPU-s (kB sent over the websocket)")
    print(f"{'step':<{width}}" + "".join(f"{n[-28:]:>32}" for n in names))
    for step in next(iter(results.values())).cpu:
        cells = [
            f"{_median(c.cpu.get(step, [])):.3f} ({_median(c.sent.get(step, [])) / 1e3:.0f} kB)"
            for c in results.values()
        ]
        print(f"{step:<{width}}" + "".join(f"{cell:>32}" for cell in cells))
    print("\nper page (page + its widget change): median CPU-s [min-max] (kB)")
    pages = {n: per_page(c) for n, c in results.items()}
    for page in CLASS_TOUR:
        cells = [
            f"{p['cpu_s']:.3f} [{p['cpu_min']:.3f}-{p['cpu_max']:.3f}] ({p['kB']:.0f} kB)"
            for p in (pages[n][page.title] for n in names)
        ]
        print(f"{page.title:<{width}}" + "".join(f"{cell:>32}" for cell in cells))
    cells = [f"{per_view(c):.3f}" for c in results.values()]
    print(f"{'per page view (median tour)':<{width}}" + "".join(f"{c:>32}" for c in cells))
    # The mean counts what runs now and then (the session sweeper, a collection) in full.
    cells = [f"{mean_per_view(c):.3f}" for c in results.values()]
    print(f"{'per page view (mean)':<{width}}" + "".join(f"{c:>32}" for c in cells))


@contextlib.contextmanager
def profiled(server: Server, out: Path | None) -> Iterator[None]:
    """py-spy samples the (first) server while the measured tours run: the collapsed stacks
    of the thread holding the GIL (the others wait, their samples are no CPU), one line each
    with its sample count (`--format raw`), for grep and sort."""
    if out is None:
        yield
        return
    spy = Path(sys.executable).parent / "py-spy"
    command = [str(spy), "record", "--pid", str(server.process.pid), "--rate", "250"]
    command += ["--format", "raw", "--output", str(out), "--threads", "--gil", "--nonblocking"]
    recorder = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(1)  # attached
    try:
        yield
    finally:
        recorder.send_signal(signal.SIGINT)
        recorder.wait(timeout=60)


async def main(args: argparse.Namespace) -> dict[str, Costs]:
    repos = [Path(r).resolve() for r in (args.repo or [REPO])]
    results = {str(r): Costs() for r in repos}
    loads = [load_average()]
    with (
        tempfile.TemporaryDirectory(prefix="cnnviz-page-cost-") as tmp,
        contextlib.ExitStack() as stack,
    ):
        servers = [
            stack.enter_context(serve(r, Path(tmp) / f"server-{i}.log"))
            for i, r in enumerate(repos)
        ]
        async with chromium() as browser, contextlib.AsyncExitStack() as tabs:
            for server in servers:
                # The lecturer's tab stays open, as in class: with no session left,
                # Streamlit drops its compiled page scripts, and each tour would pay
                # for compiling them again.
                await tabs.enter_async_context(lecturer(browser, server))
                for _ in range(args.warmups):  # the lecturer's rehearsal: caches filled
                    await tour(browser, server, None)
            print(f"warm; load {load_average()}", flush=True)
            with profiled(servers[0], args.profile):
                for n in range(args.repeats):
                    for server in servers if n % 2 == 0 else servers[::-1]:
                        await tour(browser, server, results[str(server.repo)])
                    print(f"tour {n + 1}/{args.repeats}; load {load_average()}", flush=True)
    loads.append(load_average())
    report(results, loads)
    if args.json:
        out = {
            name: {
                "steps": c.cpu,
                "sent": c.sent,
                "pages": per_page(c),
                "cpu_s_per_view": per_view(c),
                "cpu_s_per_view_mean": mean_per_view(c),
            }
            for name, c in results.items()
        }
        args.json.write_text(json.dumps({"load": loads, "results": out}, indent=1))
    return results


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="measured tours per checkout")
    parser.add_argument("--warmups", type=int, default=1, help="unmeasured tours first")
    parser.add_argument(
        "--repo",
        action="append",
        help="a checkout to serve (repeat to compare, alternating); default this one",
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument(
        "--profile", type=Path, help="py-spy the first server meanwhile: collapsed stacks here"
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.stdout.reconfigure(line_buffering=True)
    asyncio.run(main(parse()))
