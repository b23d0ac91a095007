"""The degradation experiment on the ResNet page in a real browser: Run starts the job, the
live panel follows it, and the result chart and figures replace it when it is done."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.test_pages import MAIN, assert_no_error

pytestmark = pytest.mark.e2e

TRAINING_MS = 300_000  # the quick setting: ~15 s alone on 2 cores, minutes on a busy machine


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
