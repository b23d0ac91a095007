"""The Explain page's "What a channel wants to see" tab in a real browser, at 1400 and
1024 px: the job starts, shows its progress, and ends in the optimized images beside the
validation digits that excite the same channels most."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.test_pages import assert_no_error

pytestmark = pytest.mark.e2e

MAIN = '[data-testid="stMain"]'
TAB = "What a channel wants to see"


@pytest.mark.parametrize("width", [1400, 1024])
def test_the_job_ends_in_the_images(app, screenshot_dir: Path, width: int) -> None:
    app.page.set_viewport_size({"width": width, "height": 900})
    start = app.server.log_size()
    app.open("explain")
    app.page.get_by_role("tab", name=TAB).click()
    main = app.page.locator(MAIN)
    button = main.get_by_role("button", name="Optimize the images (4 channels)")
    button.wait_for(timeout=30_000)
    assert_no_error(app, start, f"on the {TAB} tab")
    app.screenshot(screenshot_dir / f"explain-feature_viz-{width}.png")
    app.rerun_after(button.click)
    main.get_by_text("measured on the 8-bit image").wait_for(timeout=120_000)
    assert_no_error(app, start, "after the feature visualization")
    app.page.get_by_role("tab", name=TAB).click()
    titles = main.get_by_text("c3 channel", exact=False)
    assert titles.count() >= 4
    assert main.locator('[data-testid="stImage"]').count() >= 4 * (1 + 6)
    app.screenshot(screenshot_dir / f"explain-feature_viz_done-{width}.png")
