"""The transfer-learning page's data section in a real browser: an upload with renamed copies
and an image in two classes shows both notices and the files; a zip cut short is damaged."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.data_cases import copies_entries, good_entries, make_zip
from tests.e2e.test_pages import MAIN, assert_no_error
from tests.e2e.test_transfer_learning import upload_zip, wait_for_estimate, wait_for_text

pytestmark = pytest.mark.e2e


def test_duplicates_notice_in_the_browser(app, screenshot_dir: Path) -> None:
    log_start = app.server.log_size()
    entries, _, _ = copies_entries()
    upload_zip(app, make_zip(entries))
    wait_for_text(app, "9 groups of exact duplicates")
    wait_for_estimate(app)  # its rerun would re-mount the expander under the click
    main = app.page.locator(MAIN)
    notices = main.locator("[data-testid='stAlertContainer']")
    texts = [notices.nth(i).inner_text() for i in range(notices.count())]
    assert any("9 groups of exact duplicates: 20 images share" in t for t in texts), texts
    assert any("The same image in two classes: 1 group (3 images)" in t for t in texts)
    expander = main.locator("[data-testid='stExpander']").filter(has_text="the files")
    expander.get_by_text("9 groups of exact duplicates: the files").click()
    grid = expander.locator("[data-testid='stDataFrame']")
    grid.wait_for(state="visible")
    # the page may rerun between the wait and the measure (the element is then re-mounted):
    # measure in the browser until the table is open, the 20 rows' height
    app.page.wait_for_function(
        """() => [...document.querySelectorAll("[data-testid='stExpander']")]
            .filter(e => e.innerText.includes("the files"))
            .some(e => [...e.querySelectorAll("[data-testid='stDataFrame']")]
                .some(g => g.getBoundingClientRect().height > 100))""",
        timeout=15_000,
    )
    assert_no_error(app, log_start, "after the upload")
    for width, height in ((1400, 1000), (1024, 768)):
        app.page.set_viewport_size({"width": width, "height": height})
        app.screenshot(screenshot_dir / f"transfer_learning-duplicates-{width}.png")


def test_truncated_zip_in_the_browser(app, screenshot_dir: Path) -> None:
    whole = make_zip(good_entries(("a", "b"), 3))
    upload_zip(app, whole[: len(whole) // 2])
    wait_for_text(app, "The archive is damaged: it stops before its end")
    assert "not a zip" not in app.page.locator(MAIN).inner_text()
    app.page.set_viewport_size({"width": 1024, "height": 768})
    app.screenshot(screenshot_dir / "transfer_learning-truncated-1024.png")
