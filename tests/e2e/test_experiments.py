"""The degradation experiment on the ResNet page in a real browser: Run starts the job, the
live panel follows it, and the result chart and figures replace it when it is done."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import DRAWN, MAX_SHOT_PX
from tests.e2e.test_pages import MAIN, assert_no_error

pytestmark = pytest.mark.e2e

TRAINING_MS = 300_000  # a quick setting: under a minute alone on 2 cores, minutes when busy


def test_degradation_runs_in_the_browser(app, screenshot_dir: Path) -> None:
    log_start = app.server.log_size()
    app.open("resnet")
    run = app.page.locator(".st-key-resnet_degradation_run button")
    run.scroll_into_view_if_needed()
    run.click()
    # The panel: a progress bar and a Stop button while it trains.
    app.page.locator(".st-key-resnet_degradation_panel_stop").wait_for()
    done = app.page.locator(f"{MAIN} p", has_text="Final training loss: plain 8 layers")
    done.wait_for(timeout=TRAINING_MS)
    assert app.page.get_by_text("Finished in").count() == 1
    assert app.page.locator(".st-key-resnet_degradation_panel_stop").count() == 0
    assert_no_error(app, log_start, "after the experiment ran")
    app.screenshot(screenshot_dir / "resnet-degradation.png")


def _run_and_wait(app, prefix: str, done_text: str) -> None:
    run = app.page.locator(f".st-key-{prefix}_run button")
    run.scroll_into_view_if_needed()
    run.click()
    app.page.locator(f".st-key-{prefix}_panel_stop").wait_for()
    app.page.locator(f"{MAIN} p", has_text=done_text).wait_for(timeout=TRAINING_MS)


def test_augmentation_experiments_in_the_browser(app, screenshot_dir: Path) -> None:
    """The quick rotation and noise experiments: the 6 <-> 9 curve over the ranges, the noise
    chart with the seeds' error bars and the conclusion worded from their spread; at 1400 and
    1024 px wide."""
    log_start = app.server.log_size()
    app.open("augmentation")
    caption = app.page.locator(f"{MAIN} [data-testid='stCaptionContainer']", has_text="Expected")
    assert "takes seconds" not in caption.inner_text()
    _run_and_wait(app, "augmentation_rotation", "The confusion starts at")
    app.page.get_by_role("tab", name="Noise injection: how much?").click()
    _run_and_wait(app, "augmentation_noise", "within the spread of 3 seeds")
    assert_no_error(app, log_start, "after the experiments ran")
    for width in (1400, 1024):
        for tab, name in (
            ("Noise injection: how much?", "noise"),
            ("Only the desired invariance: rotating digits", "rotation"),
        ):
            _shot_tab(app, width, tab, screenshot_dir / f"augmentation-{name}-{width}.png")


def _shot_tab(app, width: int, tab: str, path: Path) -> None:
    """The experiment's tab panel only, with the viewport as tall as the page so nothing of
    it is cut off by Streamlit's scrolling main area."""
    app.page.set_viewport_size({"width": width, "height": 900})
    app.page.get_by_role("tab", name=tab).click()
    height = app.page.evaluate(f"() => document.querySelector('{MAIN}').scrollHeight")
    app.page.set_viewport_size({"width": width, "height": min(height, MAX_SHOT_PX)})
    app.page.wait_for_function(DRAWN)
    app.page.locator(f"{MAIN} [role='tabpanel']:visible").last.screenshot(path=path)
