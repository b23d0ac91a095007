"""The Explain page in a real browser: every tab draws without an error at 1400 and 1024 px,
the six attribution maps are each at least 240 px wide with their titles apart (two per row at
1024 px, three at 1400 px), and the sanity check runs as a job to its grid of maps and lesson."""

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
    # The sanity check: a job with a progress panel, then the grid of maps and the lesson.
    app.rerun_after(app.page.get_by_role("button", name="Run the sanity check").click)
    lesson = app.page.locator(MAIN).get_by_text("explains the image, not the model")
    lesson.wait_for(timeout=60_000)
    assert_no_error(app, start, "after the sanity check")
    app.screenshot(screenshot_dir / f"explain-sanity_done-{width}.png")


ALL_METHODS = "saliency,integrated_gradients,smoothgrad,gradcam,occlusion,guided_backprop"
# Each map's chart box and its title's box (Plotly's .gtitle), in page pixels.
MAP_BOXES = """() => [...document.querySelectorAll(
    '.st-key-explain_maps_grid [data-testid="stPlotlyChart"]')].map(c => {
  const r = c.getBoundingClientRect(), t = c.querySelector('.gtitle');
  const tr = t ? t.getBoundingClientRect() : null;
  return {x: r.x, y: r.y, w: r.width, right: r.right, title: t ? t.textContent : null,
          tx: tr && tr.x, tright: tr && tr.right, ty: tr && tr.y};
})"""


@pytest.mark.parametrize(("width", "per_row"), [(1400, 3), (1024, 2)])
def test_six_attribution_maps_are_wide_with_their_titles_apart(
    app, screenshot_dir: Path, width: int, per_row: int
) -> None:
    app.page.set_viewport_size({"width": width, "height": 900})
    start = app.server.log_size()
    app.open(f"explain?methods={ALL_METHODS}")
    app.page.locator(".st-key-explain_maps_grid .gtitle").nth(5).wait_for()
    assert_no_error(app, start, "with all six methods")
    sidebar = app.page.locator('[data-testid="stSidebar"]')
    assert sidebar.bounding_box()["width"] > 200  # open, as a teacher leaves it
    boxes = app.page.evaluate(MAP_BOXES)
    assert [b["title"] for b in boxes] == [
        "Saliency", "Integrated Gradients", "SmoothGrad", "Grad-CAM", "Occlusion",
        "Guided Backprop",
    ]  # fmt: skip
    assert min(b["w"] for b in boxes) >= 240, boxes
    rows: dict[int, list[dict]] = {}
    for b in boxes:
        rows.setdefault(round(b["y"]), []).append(b)
    assert [len(r) for r in rows.values()] == [per_row] * (6 // per_row), boxes
    for b in boxes:  # each title whole inside its own chart
        assert b["x"] <= b["tx"] and b["tright"] <= b["right"], b
    print(f"{width} px: maps {[round(b['w']) for b in boxes]} px wide, {per_row} per row")
    app.screenshot(screenshot_dir / f"explain-six_maps-{width}.png")


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


def test_a_fine_tuned_model_explained_on_its_validation_images(app, screenshot_dir: Path) -> None:
    """Train one tiny epoch on the digits (16 px, random init) on the Transfer learning page,
    go to Explain through the sidebar (the same session), pick the fine-tuned model: its
    validation images are offered, mistakes first, and Grad-CAM's 2x2 default layer says so."""
    from tests.e2e.test_pages import NAV_LINK, NAV_MORE
    from tests.e2e.test_transfer_learning import (
        TRAIN_TIMEOUT_MS,
        random_weights,
        set_number,
        wait_for_text,
    )

    start = app.server.log_size()
    app.page.set_viewport_size({"width": 1400, "height": 900})
    app.open("transfer_learning")
    set_number(app, "Image side", 16)
    wait_for_text(app, "16x16")
    main = app.page.locator(MAIN)
    random_weights(app)
    set_number(app, "Epochs", 1)
    wait_for_text(app, "Trainable parameters")
    app.page.get_by_role("button", name="Train", exact=True).click()
    app.page.get_by_text("4. Results").wait_for(timeout=TRAIN_TIMEOUT_MS)
    wait_for_text(app, "The Explain page can show")
    more = app.page.locator(NAV_MORE)
    if more.count() and "more" in more.inner_text():
        more.click()
    link = app.page.locator(NAV_LINK).filter(has=app.page.locator("[label='Explain']"))
    app.rerun_after(link.click)
    app.page.wait_for_url(f"{app.server.url}/explain*")
    app.rerun_after(app.page.get_by_text("Your fine-tuned model").click)
    # The class and image pickers (a selectbox's value is no text: their labels and the
    # image's caption are), opening on a mistake of a class that has one.
    wait_for_text(app, "True class")
    wait_for_text(app, "Validation image")
    wait_for_text(app, "misclassified as")
    wait_for_text(app, "layer2 is 2x2 at 16x16 px")
    wait_for_text(app, "Try layer1 (4x4)")
    assert_no_error(app, start, "with the fine-tuned model")
    for width in (1400, 1024):
        app.page.set_viewport_size({"width": width, "height": 900})
        app.page.wait_for_timeout(300)
        app.screenshot(screenshot_dir / f"explain-fine_tuned-{width}.png")
    # The suggested layer (typed into the long list's search): the note goes.
    app.page.get_by_text("Method settings", exact=True).click()
    box = main.locator("[data-testid='stSelectbox']").filter(has_text="Grad-CAM layer")
    pick_option(app, box.locator("input[role=combobox]"), "layer1 (4x4x64)")
    app.page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stMain\"]').innerText.includes('2x2 at')"
    )
    assert_no_error(app, start, "after choosing layer1")


def pick_option(app, search, label: str, tries: int = 4) -> None:
    """Type `label` into a select box's search and click its option. A rerun that lands
    meanwhile (the page settling after a page switch) redraws the box and closes its list:
    then type again."""
    option = app.page.get_by_role("option", name=label, exact=True)
    for attempt in range(tries):
        search.click()
        search.fill(label)
        try:
            option.click(timeout=5_000)
        except Exception:  # Playwright's TimeoutError: the list closed under us
            if attempt == tries - 1:
                raise
            app.page.keyboard.press("Escape")
            continue
        return
