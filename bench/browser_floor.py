"""Benchmark: the floor a class of browsers on the server's own cores sets, whatever the app does.

N fresh browser contexts (one per student, as bench/classroom.py opens them) load one page at
once, side by side for three apps on this machine:
- `text`: a bare Streamlit page (a title and a line), no cnnviz;
- `chart`: the same plus one small Plotly bar chart (the browser loads plotly.js for it);
- `home`: cnnviz's home page (`python -m cnnviz.server.serve`, warmed by one session first).
It prints page-ready p50/p95/max (the e2e tests' definition: run finished, drawn), the server's
CPU-seconds, and the wall time of the class, so the browsers' share of the 2 cores shows.

    .venv/bin/python bench/browser_floor.py --sessions 20
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from appdriver import (
    REPO,
    _free_port,
    chromium,
    cpu_seconds,
    load_average,
    session,
    stop_group,
    wait_until_healthy,
)

from cnnviz.server.serve import command as serve_command

APPS = {
    "text": 'import streamlit as st\nst.title("Hello")\nst.write("A bare page.")\n',
    "chart": (
        "import plotly.graph_objects as go\nimport streamlit as st\n"
        'st.title("Hello")\nst.plotly_chart(go.Figure(go.Bar(x=["a", "b"], y=[1, 2])))\n'
    ),
}


def bare_command(script: Path, port: int) -> list[str]:
    """`streamlit run script` with the flags the app's own server gets (after its module)."""
    launcher = serve_command(port)
    assert launcher[1:3] == ["-m", "cnnviz.server.serve"], launcher
    return [sys.executable, "-m", "streamlit", "run", str(script), *launcher[3:]]


@contextlib.contextmanager
def serve(app: str, folder: Path) -> Iterator[tuple[str, subprocess.Popen]]:
    port = _free_port()
    if app == "home":
        command, cwd = serve_command(port), REPO
    else:
        script = folder / f"{app}.py"
        script.write_text(APPS[app])
        command, cwd = bare_command(script, port), folder
    log = folder / f"{app}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(url, process, log, 120)
        yield url, process
    finally:
        stop_group(process)


async def one(browser, url: str) -> float:
    async with session(browser, url) as student:
        return await student.open("")


async def class_of(url: str, pid: int, sessions: int) -> tuple[list[float], float, float]:
    """Page-ready times of `sessions` fresh contexts at once, the wall time and server CPU-s
    they took (after one rehearsal session: the server's caches, not the class's)."""
    async with chromium() as browser:
        await one(browser, url)
        cpu, start = cpu_seconds(pid), time.perf_counter()
        times = await asyncio.gather(*(one(browser, url) for _ in range(sessions)))
        return sorted(times), time.perf_counter() - start, cpu_seconds(pid) - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--apps", default="text,chart,home")
    args = parser.parse_args()
    print(f"{args.sessions} fresh contexts loading one page at once; load {load_average()}")
    print(f"{'app':6} {'p50':>6} {'p95':>6} {'max':>6} {'wall':>6} {'server CPU-s':>13}  load")
    with tempfile.TemporaryDirectory() as tmp:
        for app in args.apps.split(","):
            with serve(app, Path(tmp)) as (url, process):
                times, wall, cpu = asyncio.run(class_of(url, process.pid, args.sessions))
            p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
            print(
                f"{app:6} {statistics.median(times):6.2f} {p95:6.2f} {times[-1]:6.2f} "
                f"{wall:6.1f} {cpu:13.2f}  {load_average()}"
            )


if __name__ == "__main__":
    main()
