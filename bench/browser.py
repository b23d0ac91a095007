"""Benchmark: what one student waits for in the browser, on an otherwise idle server.

Starts `streamlit run app.py` on a free loopback port (fresh, so the first page is cold) and
one headless Chromium, then times to page-ready (the run finished, nothing running, every chart
drawn; see bench/appdriver.py):
- a cold first page: a deep link to --cold-page as the server's first visit;
- a warm page switch: each page opened from the sidebar a second time;
- a widget change on every page (one representative widget each; several for receptive
  fields), --repeats times, each to a value not seen before (a student clicking '+');
- a click on a home-chart bar until its page is ready.
Prints a table of medians and max, and "run": the median time to the end of the script run
alone (the rest is the browser drawing); asserts nothing; stops by itself.

    python bench/browser.py [--repeats 3] [--cold-page receptive_field] [--pages explain,vgg]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from appdriver import (
    Session,
    _choose,
    _slider_right,
    chromium,
    load_average,
    serve,
    session,
)

TARGET_S = 0.5
COLD_TARGET_S = 3.0


async def _number(s: Session, key_prefix: str) -> float:
    up = s.page.locator(f"[class*='st-key-{key_prefix}'] [data-testid=stNumberInputStepUp]")
    return await s.timed(up.first.click)


async def _rf_select(s: Session, key_prefix: str, nth: int) -> float:
    """Pick the nth option after the selected one of a receptive-field selectbox."""
    box = s.page.locator(f"[class*='st-key-{key_prefix}']").first
    selected = await box.locator("input[role=combobox]").input_value()
    await box.locator("button[aria-label=Open]").click()
    options = s.page.locator("[role=option]")
    await options.first.wait_for()
    texts = [t.strip() for t in await options.all_inner_texts()]
    index = (texts.index(selected) + nth) % len(texts) if selected in texts else nth
    return await s.timed(options.nth(index).click)


async def _button(s: Session, key: str) -> float:
    return await s.timed(s.page.locator(f".st-key-{key} button").first.click)


Change = Callable[[Session, int], Awaitable[float]]
# page path -> (widget, change(session, repeat)); each repeat reaches a value not seen before.
WIDGETS: dict[str, list[tuple[str, Change]]] = {
    "": [],
    "augmentation": [("draw again (seed +1)", lambda s, n: _button(s, "augmentation_again"))],
    "transfer_learning": [("epochs +1", lambda s, n: _number(s, "transfer_learning_epochs"))],
    "lenet": [("input size +1", lambda s, n: _number(s, "lenet_hw"))],
    "alexnet": [("input size +1", lambda s, n: _number(s, "alexnet_"))],
    "vgg": [
        ("input size +1", lambda s, n: _number(s, "vgg_hw")),
        ("depth", lambda s, n: _choose(s, "vgg_depth", ["19", "13", "11", "16"][n % 4])),
    ],
    "googlenet": [("input size +1", lambda s, n: _number(s, "googlenet_hw"))],
    "resnet": [
        ("depth", lambda s, n: _choose(s, "resnet_depth", ["18", "34", "101", "152"][n % 4]))
    ],
    "layer_calculator": [("kernel +1", lambda s, n: _number(s, "layer_calculator_kernel"))],
    "inception_ops": [("input depth +1", lambda s, n: _number(s, "inception_ops_c"))],
    "vgg_stacking": [("channels +1", lambda s, n: _number(s, "vgg_stacking_channels"))],
    "receptive_field": [
        ("unit row +1", lambda s, n: _slider_right(s, "receptive_field_grid_")),
        ("layer", lambda s, n: _rf_select(s, "receptive_field_layer_", 1)),
        ("model", lambda s, n: _rf_select(s, "receptive_field_model", 1)),
    ],
    "explain": [("digit +1", lambda s, n: _number(s, "explain_digit"))],
}

BAR_PAGE = """() => {
  const plot = document.querySelector('.js-plotly-plot');
  return plot.data[0].customdata.findIndex(c => c);
}"""


async def bar_click(s: Session) -> float:
    """Click the first home bar that has a page, low in the bar; ready when that page is."""
    await s.open("")
    index = await s.page.evaluate(BAR_PAGE)
    bar = s.page.locator(".js-plotly-plot .barlayer .point path").nth(index)
    box = await bar.bounding_box()
    start_url = s.page.url
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] * 0.4  # above the depth marker
    took = await s.timed(lambda: s.page.mouse.click(x, y))
    for _ in range(50):  # the target page's run may finish before the URL changes
        if s.page.url != start_url:
            return took
        await s.page.wait_for_timeout(100)
    raise RuntimeError("the bar click did not open a page")


def row(label: str, values: list[float], target: float, runs: list[float] | None = None) -> str:
    """A table row: median and max to page-ready, and the median to the run's end alone."""
    if not values:
        return f"{label:44} {'-':>6}"
    median = statistics.median(values)
    flag = "ok" if median < target else "SLOW"
    run = f"{statistics.median(runs):6.2f}" if runs else f"{'-':>6}"
    line = f"{label:44} {median:6.2f} {max(values):6.2f} {run} {len(values):3}  {flag}"
    print(line, flush=True)
    return line


async def measured(
    label: str, target: float, timings: Callable[[], Awaitable[list[tuple[float, float]]]]
) -> str:
    """A row of the table, or a row saying what failed (the other rows still get measured).
    `timings` gives (page-ready, run's end) pairs."""
    try:
        pairs = await timings()
        return row(label, [t for t, _ in pairs], target, [r for _, r in pairs])
    except Exception as err:  # a finding, not the end of the benchmark
        line = f"{label:44} failed: {type(err).__name__}: {str(err).splitlines()[0][:80]}"
        print(line, flush=True)
        return line


async def main(repeats: int, cold_page: str, pages: list[str] | None) -> None:
    lines: list[str] = []
    widgets = {p: w for p, w in WIDGETS.items() if pages is None or not p or p in pages}
    with tempfile.TemporaryDirectory() as tmp, serve(Path(tmp) / "server.log") as server:
        print(f"load average {load_average()}")
        async with chromium() as browser, session(browser, server.url) as s:
            s.timeout_s = 30  # one student on an idle server: a stuck wait is a failure
            s.page.set_default_timeout(30_000)
            cold = await s.open(cold_page)
            label = f"cold first page (/{cold_page}, fresh server)"
            lines.append(row(label, [cold], COLD_TARGET_S, [s.last_run_s]))
            for path in widgets:  # first visits warm the caches
                await s.nav(path) if path else await s.open(path)
            switches, runs = [], []
            for path in widgets:
                if path:
                    switches.append(await s.nav(path))
                    runs.append(s.last_run_s)
            lines.append(row("warm page switch (sidebar, every page)", switches, TARGET_S, runs))
            for path, changes in widgets.items():
                for label, change in changes:

                    async def steps(
                        path: str = path, change: Change = change
                    ) -> list[tuple[float, float]]:
                        await s.nav(path)
                        return [(await change(s, n), s.last_run_s) for n in range(repeats)]

                    lines.append(await measured(f"/{path or 'home'}: {label}", TARGET_S, steps))

            async def clicks() -> list[tuple[float, float]]:
                return [(await bar_click(s), s.last_run_s) for _ in range(repeats)]

            lines.append(await measured("home bar click -> its page ready", TARGET_S, clicks))
            errors = s.errors
        tracebacks = server.tracebacks()
        rss = server.rss()
    print(f"{'wall time to page-ready (s)':44} {'median':>6} {'max':>6} {'run':>6} {'n':>3}")
    print("\n".join(lines))
    print(f"server RSS after {rss / 1e6:.0f} MB, peak {server.peak_rss / 1e6:.0f} MB")
    print(f"errors: {len(errors)} in pages, {tracebacks} tracebacks; load {load_average()}")
    for e in errors[:5]:
        print(f"  {e[0]}: {e[1]}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cold-page", default="receptive_field")
    parser.add_argument("--pages", help="comma-separated page paths (default: every page)")
    args = parser.parse_args()
    asyncio.run(main(args.repeats, args.cold_page, args.pages.split(",") if args.pages else None))
