"""Benchmark: clicks lost while a job panel polls (a fragment's timed rerun meeting a click's run).

A tiny app (a button, a counter, and `cnnviz.ui.jobs.job_panel` on a job that never ends, so
its fragment reruns every --run-every seconds) is served from each checkout given (this one,
and --against, e.g. the commit before a fix), each on a server of its own; one headless
Chromium tab per server clicks the button --clicks times, the servers taking turns in rounds
of --batch clicks, a random pause after each click (so clicks meet the timer at every phase).
A click is lost when no whole-app run finishes within --lost-after seconds (the server ran it,
but the browser never heard; `bench/appdriver.AppRuns` counts whole-app runs only). --load N
busy processes make the race likely, as a class does. Prints lost clicks per checkout and
the load average; asserts nothing.

    python bench/click_race.py --against /tmp/old_race7 [--clicks 100] [--load 3]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from appdriver import REPO, AppRuns, _free_port, _healthy, chromium, load_average

TINY_APP = """
import time

import streamlit as st

from cnnviz.jobs import default_runner
from cnnviz.ui.jobs import current_job, job_panel, owner_key, remember_job

RUN_EVERY = {run_every}


def forever(report):
    step = 0
    while True:
        step += 1
        report(step=step, message="Polling")
        time.sleep(0.2)


st.session_state.setdefault("clicks", 0)
if st.button("Click", key="race_click"):
    st.session_state.clicks += 1
st.markdown(f"clicks: {{st.session_state.clicks}}")
for n in range({elements}):  # a page's worth of elements for the run to send
    st.caption(f"line {{n}} after {{st.session_state.clicks}} clicks")
runner = default_runner()
handle = current_job(runner, "race_job") or remember_job(
    runner.submit(forever, session=owner_key()), "race_job"
)
job_panel(handle, key="race_panel", run_every=RUN_EVERY)
"""


@dataclass
class Target:
    name: str
    checkout: Path
    url: str = ""
    runs: AppRuns = field(default_factory=AppRuns)
    clicks: int = 0
    lost: int = 0
    lost_unasked: int = 0  # of those, the page never asked for a rerun


@contextlib.contextmanager
def tiny_server(checkout: Path, args: argparse.Namespace, folder: Path) -> Iterator[str]:
    """The tiny app with `checkout`'s cnnviz and .streamlit/config.toml, on a free port."""
    folder.mkdir(parents=True)
    (folder / "app.py").write_text(
        TINY_APP.format(run_every=args.run_every, elements=args.elements)
    )
    (folder / ".streamlit").mkdir()
    shutil.copy(checkout / ".streamlit" / "config.toml", folder / ".streamlit" / "config.toml")
    port = _free_port()
    command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port)]
    command += ["--server.address", "127.0.0.1"]
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    with (folder / "server.log").open("wb") as out:
        process = subprocess.Popen(
            command,
            cwd=folder,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not _healthy(url):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((folder / "server.log").read_text())
            time.sleep(0.2)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)


@contextlib.contextmanager
def busy(processes: int) -> Iterator[None]:
    """`processes` Python loops spinning on the CPU, stopped afterwards."""
    spinners = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(processes)
    ]
    try:
        yield
    finally:
        for p in spinners:
            p.kill()
            p.wait()


async def click(page: object, target: Target, lost_after_s: float) -> None:
    """One click; lost when no whole-app run finishes within `lost_after_s`."""
    expected, asked = target.runs.finished + 1, target.runs.requested
    await page.locator(".st-key-race_click button").click()  # type: ignore[attr-defined]
    target.clicks += 1
    deadline = time.monotonic() + lost_after_s
    while target.runs.finished < expected:
        if time.monotonic() > deadline:
            target.lost += 1
            target.lost_unasked += target.runs.requested == asked
            return
        await page.wait_for_timeout(20)  # type: ignore[attr-defined]


async def drive(targets: list[Target], clicks: int, batch: int, args: argparse.Namespace) -> None:
    async with chromium() as browser:
        pages = []
        for t in targets:
            context = await browser.new_context(viewport={"width": 1000, "height": 700})
            page = await context.new_page()
            page.on("websocket", t.runs.watch)
            await page.goto(t.url)
            await page.locator(".st-key-race_click button").wait_for()
            await page.locator("[data-testid=stProgress]").wait_for()  # the job panel polls
            pages.append(page)
        rng = random.Random(0)
        for n in range(0, clicks, batch):
            order = list(zip(targets, pages, strict=True))
            if (n // batch) % 2:
                order.reverse()  # neither checkout always goes first
            for t, page in order:
                for _ in range(min(batch, clicks - n)):
                    await click(page, t, args.lost_after)
                    await page.wait_for_timeout(rng.uniform(0, 1000 * args.run_every))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clicks", type=int, default=100, help="per checkout")
    parser.add_argument("--batch", type=int, default=10, help="clicks per turn")
    parser.add_argument("--run-every", type=float, default=1.0, help="the job panel's timer")
    parser.add_argument("--elements", type=int, default=20, help="the page's other elements")
    parser.add_argument("--lost-after", type=float, default=10.0, help="seconds")
    parser.add_argument("--load", type=int, default=3, help="busy processes meanwhile")
    parser.add_argument("--against", type=Path, action="append", default=[])
    args = parser.parse_args()
    checkouts = [REPO, *args.against]
    targets = [Target(name=str(c), checkout=c.resolve()) for c in checkouts]
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        for n, t in enumerate(targets):
            t.url = stack.enter_context(tiny_server(t.checkout, args, Path(tmp) / str(n)))
        print(f"load average before the load: {load_average()}", flush=True)
        with busy(args.load):
            start = load_average()
            asyncio.run(drive(targets, args.clicks, args.batch, args))
            end = load_average()
    print(f"load average with {args.load} busy processes: {start} at the start, {end} at the end")
    print(f"{'checkout':<40} {'clicks':>6} {'lost':>5} {'of which no rerun asked':>24}")
    for t in targets:
        print(f"{t.name:<40} {t.clicks:>6} {t.lost:>5} {t.lost_unasked:>24}")


if __name__ == "__main__":
    main()
