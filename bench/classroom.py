"""Benchmark: a class of N students at once on a streamlit server of its own.

Starts `streamlit run app.py` on a free loopback port, then N browser contexts in one headless
Chromium (each its own Streamlit session) visit home, VGG, ResNet, GoogLeNet and receptive
fields at the same moment (first by URL, then by the sidebar) and change one widget on each.
Prints page-ready p50/p95/max per page and widget change, the server's CPU-seconds per page
view (its process tree's utime+stime from /proc, whatever the browsers cost), its RSS at start,
peak (sampled every 0.2 s) and after, and errors (exception boxes, tracebacks in its log).
Asserts nothing; stops by itself (every wait is bounded).

    python bench/classroom.py [--sessions 20] [--warm]

--warm: one session tours the pages before the class starts (the lecturer's rehearsal), so
the figures are those of a warm server; its own cost is printed apart.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from appdriver import CLASS_TOUR, chromium, load_average, serve, session, tour

P95_TARGET_S = 10.0
CPU_TARGET_S = 0.1


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def student(
    browser,
    url: str,
    times: dict[str, list[float]],
    errors: list[str],
    runs: dict[str, list[float]] | None = None,
) -> None:
    async with session(browser, url) as s:
        try:
            await tour(s, CLASS_TOUR, times, runs)
        except Exception as err:  # a timeout is a finding, not a crash of the benchmark
            errors.append(f"{type(err).__name__}: {str(err)[:160]}")
        errors.extend(s.errors)


async def main(sessions: int, warm: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp, serve(Path(tmp) / "server.log") as server:
        async with chromium() as browser:
            rss_start = server.rss()
            print(f"server up; load average {load_average()}; RSS {rss_start / 1e6:.0f} MB")
            if warm:
                cpu0, t0 = server.cpu(), time.perf_counter()
                rehearsal: dict[str, list[float]] = {}
                await student(browser, server.url, rehearsal, [])
                print(
                    f"rehearsal (1 session, cold server): {server.cpu() - cpu0:.1f} CPU-s, "
                    f"{time.perf_counter() - t0:.1f} s wall"
                )
                server.peak_rss = 0
            times: dict[str, list[float]] = {}
            runs: dict[str, list[float]] = {}
            errors: list[str] = []
            cpu0, t0 = server.cpu(), time.perf_counter()
            await asyncio.gather(
                *(student(browser, server.url, times, errors, runs) for _ in range(sessions))
            )
            cpu, wall = server.cpu() - cpu0, time.perf_counter() - t0
            rss_after = server.rss()
            tracebacks = server.tracebacks()
    views = sessions * len(CLASS_TOUR)
    print(
        f"\n{sessions} sessions at once{' (warm server)' if warm else ''}, "
        f"load average after {load_average()}"
    )
    print(f"{'page-ready (s)':36} {'n':>3} {'p50':>6} {'p95':>6} {'max':>6}   run end: p50 p95")
    for what, values in times.items():
        ran = runs.get(what) or [float("nan")]
        print(
            f"{what:36} {len(values):3} {statistics.median(values):6.2f} "
            f"{quantile(values, 0.95):6.2f} {max(values):6.2f}   "
            f"{statistics.median(ran):6.2f} {quantile(ran, 0.95):6.2f}"
        )
    print("(run end: until the script run finished, before the browser drew the page)")
    worst = max(quantile(v, 0.95) for v in times.values()) if times else float("nan")
    print(
        f"\nserver CPU {cpu:.1f} s for {views} page views (each with its widget change): "
        f"{cpu / views:.3f} CPU-s per page view (target < {CPU_TARGET_S}); wall {wall:.1f} s"
    )
    print(f"worst p95 {worst:.2f} s (target < {P95_TARGET_S:.0f} s)")
    print(
        f"server RSS start {rss_start / 1e6:.0f} MB, peak {server.peak_rss / 1e6:.0f} MB, "
        f"after {rss_after / 1e6:.0f} MB"
    )
    print(f"errors: {len(errors)} in pages, {tracebacks} tracebacks in the server log")
    for e in errors[:10]:
        print(f"  {e}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--warm", action="store_true", help="one session tours the pages first")
    args = parser.parse_args()
    asyncio.run(main(args.sessions, args.warm))
