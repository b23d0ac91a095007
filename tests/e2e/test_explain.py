"""The Explain page in a real browser: every tab draws without an error at 1400 and 1024 px,
and the sanity check runs as a job to its chart and lesson."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.test_pages import assert_no_error

pytestmark = pytest.mark.e2e

TABS = ("Attributions", "Filters", "Feature maps", "Sanity check")
MAIN = '[data-testid="stMain"]'


@pytest.mark.parametrize("width", [1400, 1024])
def test_every_tab_of_explain_draws(app, screenshot_dir: Path, width: int) -> None:
    app.page.set_viewport_size({"width": width, "height": 900})
    start = app.server.log_size()
    app.open("explain")
    for tab in TABS:
        app.page.get_by_role("tab", name=tab).click()
        app.page.wait_for_timeout(300)
        assert_no_error(app, start, f"on the {tab} tab")
        name = tab.lower().replace(" ", "_")
        app.screenshot(screenshot_dir / f"explain-{name}-{width}.png")
    # The sanity check: a job with a progress panel, then the chart and the lesson.
    app.rerun_after(app.page.get_by_role("button", name="Run the sanity check").click)
    lesson = app.page.locator(MAIN).get_by_text("explains the image, not the model")
    lesson.wait_for(timeout=60_000)
    assert_no_error(app, start, "after the sanity check")
    app.screenshot(screenshot_dir / f"explain-sanity_done-{width}.png")


def test_resnet18_with_random_weights_draws(app, screenshot_dir: Path) -> None:
    app.page.set_viewport_size({"width": 1024, "height": 768})
    start = app.server.log_size()
    app.open("explain")
    app.rerun_after(app.page.get_by_text("ImageNet model (torchvision)").click)
    app.rerun_after(app.page.get_by_text("Explain it with random weights instead").click)
    assert_no_error(app, start, "with ResNet-18's random weights")
    for tab in ("Attributions", "Filters"):
        app.page.get_by_role("tab", name=tab).click()
        app.page.wait_for_timeout(300)
        app.screenshot(screenshot_dir / f"explain-resnet18-{tab.lower()}-1024.png")
