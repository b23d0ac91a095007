"""Benchmark: warm rerun time of every page in PAGES after a widget change (Streamlit AppTest).

Each page runs once (its first, cold run warms imports and caches); then its first number input,
selectbox, slider or toggle takes a new value --repeats times (each step to a value not seen
before, like a student clicking '+') and each `at.run()` is timed. Prints seconds per page and
whether the median rerun is under the 0.5 s target; asserts nothing. Pages are found in
cnnviz.ui.navigation.PAGES, so new pages are measured without edits.

    python bench/pages.py [--pages vgg,resnet] [--repeats N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # `python bench/pages.py` from anywhere, even without `pip -e`

import streamlit.logger  # noqa: E402

from cnnviz.ui.navigation import PAGES, PageEntry  # noqa: E402

# AppTest outside `streamlit run` warns about a missing ScriptRunContext on every page.
streamlit.logger.set_log_level("error")

TARGET_S = 0.5
WIDGET_KINDS = ("number_input", "selectbox", "slider", "toggle")


@dataclass
class PageTiming:
    """What one page did: its cold first run, the widget it changed and the timed reruns."""

    page: PageEntry
    first_run_s: float
    widget: str = "none"
    reruns_s: tuple[float, ...] = ()
    error: str = ""

    @property
    def median_s(self) -> float | None:
        return statistics.median(self.reruns_s) if self.reruns_s else None


def first_widget(at: Any) -> tuple[str, int] | None:
    """(kind, index) of the first enabled widget of the first kind the page has."""
    for kind in WIDGET_KINDS:
        for index, widget in enumerate(getattr(at, kind)):
            if not widget.disabled and not widget.form_id:
                return kind, index
    return None


def next_number(value: float, step: float, low: float | None, high: float | None, up: bool):
    """`value` one step up (or down); (new value, direction) turning back at a bound."""
    for going_up in (up, not up):
        new = value + step if going_up else value - step
        if (high is None or new <= high) and (low is None or new >= low):
            return new, going_up
    return value, up


class WidgetWalk:
    """Steps one widget through new values, as a student would click through them."""

    def __init__(self, kind: str, index: int) -> None:
        self.kind, self.index, self.up = kind, index, True

    def widget(self, at: Any) -> Any:
        return getattr(at, self.kind)[self.index]

    def describe(self, at: Any) -> str:
        return f"{self.kind} '{self.widget(at).label}'"

    def step(self, at: Any) -> None:
        """Give the widget its next value (it is applied by the next `at.run()`)."""
        widget = self.widget(at)
        if self.kind == "number_input":
            new, self.up = next_number(widget.value, widget.step, widget.min, widget.max, self.up)
            widget.set_value(new)
        elif self.kind == "selectbox":
            current = widget.index or 0
            widget.select_index((current + 1) % len(widget.options))
        elif self.kind == "slider":
            value = widget.value
            high = value[-1] if isinstance(value, (list, tuple)) else value
            new, self.up = next_number(high, widget.step, widget.min, widget.max, self.up)
            widget.set_value((*value[:-1], new) if isinstance(value, (list, tuple)) else new)
        else:  # toggle
            widget.set_value(not widget.value)


def measure(entry: PageEntry, repeats: int) -> PageTiming:
    """Cold first run of the page, then `repeats` timed reruns after a widget change."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
    start = time.perf_counter()
    at.run()  # runs the default page
    if not entry.default:
        at.switch_page(entry.path)
        start = time.perf_counter()
        at.run()
    timing = PageTiming(entry, first_run_s=time.perf_counter() - start)
    if at.exception:
        timing.error = f"first run: {at.exception[0].message}"
        return timing
    found = first_widget(at)
    if found is None:
        return timing
    walk = WidgetWalk(*found)
    timing.widget = walk.describe(at)
    reruns = []
    for _ in range(repeats):
        walk.step(at)
        start = time.perf_counter()
        at.run()
        reruns.append(time.perf_counter() - start)
        if at.exception:
            timing.error = f"after a change: {at.exception[0].message}"
            break
    timing.reruns_s = tuple(reruns)
    return timing


def report(timings: list[PageTiming], repeats: int) -> None:
    print(
        f"Page rerun after a widget change (AppTest, median of {repeats} changes to new values, s);"
        f" target < {TARGET_S} s\n"
    )
    header = f"{'page':<20}{'first run':>10}{'median':>9}{'max':>8}  {'target':<7} widget changed"
    print(header)
    print("-" * (len(header) + 30))
    for t in timings:
        median = t.median_s
        verdict = "-" if median is None else ("met" if median < TARGET_S else "MISS")
        max_s = f"{max(t.reruns_s):.3f}" if t.reruns_s else "-"
        median_s = "-" if median is None else f"{median:.3f}"
        print(
            f"{t.page.title:<20}{t.first_run_s:>10.3f}{median_s:>9}{max_s:>8}  {verdict:<7} "
            f"{t.widget}"
        )
        if t.error:
            print(f"  ! {t.error}")
    measured = [t for t in timings if t.median_s is not None]
    met = sum(t.median_s < TARGET_S for t in measured)
    print(f"\n{met}/{len(measured)} pages with a widget under {TARGET_S} s (median rerun)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", help="comma-separated page file stems (default: all)")
    parser.add_argument("--repeats", type=int, default=5, help="timed reruns per page")
    args = parser.parse_args(argv)
    chosen = PAGES
    if args.pages:
        stems = {s.strip() for s in args.pages.split(",")}
        chosen = tuple(p for p in PAGES if Path(p.path).stem in stems)
        if not chosen:
            parser.error(f"no page among {', '.join(Path(p.path).stem for p in PAGES)}")
    started, load_before = time.perf_counter(), os.getloadavg()[0]
    timings = []
    for entry in chosen:
        timings.append(measure(entry, args.repeats))
        print(f"  measured {entry.title}", file=sys.stderr, flush=True)
    report(timings, args.repeats)
    print(
        f"({len(chosen)} pages in {time.perf_counter() - started:.0f} s on {os.cpu_count()} cores;"
        f" 1-min load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after)"
    )


if __name__ == "__main__":
    main()
