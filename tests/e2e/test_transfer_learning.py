"""The transfer-learning page in a real browser: upload a zip made here, train one tiny epoch,
see the curve get its points and the results appear, with the settings they came from; the
confusion boxes follow clicks and picks, a removed image takes its prediction along, a changed
setting marks the results as the previous run's."""

from __future__ import annotations

from pathlib import Path

import pytest

from cnnviz.train import load_trained
from tests.e2e.conftest import DRAWN, RUNNING
from tests.e2e.test_pages import MAIN, assert_no_error
from tests.test_transfer_learning_page import png_bytes, tiny_zip

pytestmark = pytest.mark.e2e

TRAIN_TIMEOUT_MS = 120_000  # a shared 2-core machine; the run itself takes a few seconds
# Plotly keeps a chart's traces on its div: the validation accuracy curve has a point.
CURVE_HAS_A_POINT = """() => [...document.querySelectorAll('.js-plotly-plot')].some(
  gd => (gd.data || []).some(t => t.name === 'validation accuracy' && (t.x || []).length >= 1))"""


def number_input(app, label: str):
    return app.page.locator(f"{MAIN} [data-testid='stNumberInput']").filter(has_text=label)


def set_number(app, label: str, value: int) -> None:
    field = number_input(app, label).locator("input")
    if field.input_value() == str(value):
        return  # nothing changes, so nothing reruns (no timed panel run stands in for one now)
    field.fill(str(value))
    app.rerun_after(lambda: field.press("Enter"))


def wait_for_text(app, text: str) -> None:
    """Wait until the page's main area says `text` (a run that waits for the estimate's probe
    or a job panel's timed redraw can finish in between: not always the run an action caused)."""
    app.page.wait_for_function(
        "text => document.querySelector('[data-testid=\"stMain\"]').innerText.includes(text)",
        arg=text,
    )


def wait_for_estimate(app) -> None:
    """Wait until the estimate's probe has answered and the one rerun it asks for has been
    drawn: until then, that rerun can re-mount the page's elements under a click (for a
    moment the old and the new copy of an element are both on the page)."""
    wait_for_text(app, "Estimated time")
    app.page.wait_for_selector(RUNNING, state="hidden")
    app.page.wait_for_function(DRAWN)


def upload_zip(app, data: bytes, name: str = "photos.zip") -> None:
    """The transfer page at 16 px with `data` uploaded as a zip."""
    app.open("transfer_learning")
    set_number(app, "Image side", 16)
    wait_for_text(app, "16x16")
    app.rerun_after(lambda: app.page.get_by_text("Upload a .zip").click())
    upload = app.page.locator(f"{MAIN} [data-testid='stFileUploader'] input[type='file']")
    app.rerun_after(
        lambda: upload.first.set_input_files(
            files=[{"name": name, "mimeType": "application/zip", "buffer": data}]
        )
    )


def random_weights(app) -> None:
    """Random initialization (the cheapest start), unless it is already chosen."""
    if not app.page.locator(MAIN).get_by_text("Random initialization: what").count():
        app.rerun_after(lambda: app.page.get_by_text("Random initialization", exact=True).click())
        wait_for_text(app, "Random initialization: what")


def test_upload_a_zip_and_train_one_epoch(app, screenshot_dir: Path) -> None:
    log_start = app.server.log_size()
    upload_zip(app, tiny_zip(), "shapes.zip")
    wait_for_text(app, "1 file skipped")
    main = app.page.locator(MAIN)
    random_weights(app)
    set_number(app, "Epochs", 1)
    wait_for_text(app, "Trainable parameters")
    assert number_input(app, "Epochs").locator("input").input_value() == "1"
    app.page.get_by_role("button", name="Train", exact=True).click()
    app.page.wait_for_function(CURVE_HAS_A_POINT, timeout=TRAIN_TIMEOUT_MS)
    app.page.get_by_text("4. Results").wait_for(timeout=TRAIN_TIMEOUT_MS)
    app.page.get_by_text("Validation accuracy").first.wait_for()
    wait_for_text(app, "Results of the run with")  # the settings its results came from
    with app.page.expect_download() as download:
        app.page.get_by_role("button", name="Download the trained model").click()
    trained = load_trained(download.value.path())  # the one file loads back
    assert trained.classes == ["dark", "light"] and trained.image_size == 16
    # named after what it is, and saying how it was trained
    assert (trained.strategy, trained.weights) == ("linear", "none")
    accuracy = f"{100 * trained.val_accuracy:.1f}"
    assert download.value.suggested_filename == f"resnet18_none_linear_val{accuracy}pct.pt"
    # A click on a confusion cell (true light, predicted light) chooses it for the images.
    confusion = main.locator("[data-testid='stPlotlyChart']").filter(has_text="predicted")
    cell = confusion.locator(".scatterlayer .point").nth(3)  # cells row by row: (1, 1)
    app.rerun_after(lambda: cell.click(force=True))
    wait_for_text(app, "of light predicted as light")
    assert chosen_cell(app) == ("light", "light")
    # Then (true dark, predicted light) by a click, then "dark" picked in "Predicted as": the
    # box once kept the value from before the click, so picking "dark" did not rerun and the
    # boxes read dark/dark above a sentence about dark predicted as light.
    app.rerun_after(lambda: confusion.locator(".scatterlayer .point").nth(1).click(force=True))
    wait_for_text(app, "of dark predicted as light")
    assert chosen_cell(app) == ("dark", "light")
    main.get_by_role("combobox", name="Predicted as").click()
    app.rerun_after(lambda: app.page.get_by_role("option", name="dark", exact=True).click())
    wait_for_text(app, "of dark predicted as dark")
    assert chosen_cell(app) == ("dark", "dark")
    assert_no_error(app, log_start, "after training")
    for width, height in ((1400, 1000), (1024, 768)):  # the results, looked at by a person
        app.page.set_viewport_size({"width": width, "height": height})
        app.screenshot(screenshot_dir / f"transfer_learning-trained-{width}.png")
    app.page.set_viewport_size({"width": 1400, "height": 900})
    # A prediction goes when its image is removed from the uploader.
    predict = main.locator("[data-testid='stFileUploader']").filter(has_text="image to classify")
    app.rerun_after(
        lambda: predict.locator("input[type='file']").set_input_files(
            files=[{"name": "new.png", "mimeType": "image/png", "buffer": png_bytes(200)}]
        )
    )
    wait_for_text(app, "as the model sees it")
    app.rerun_after(lambda: predict.get_by_role("button", name="Remove new.png").click())
    assert not main.get_by_text("as the model sees it").count()
    assert not main.locator(".js-plotly-plot").filter(has_text="Top classes").count()
    # Another setting: the results say they are the previous run's, and what changed.
    set_number(app, "Epochs", 2)
    wait_for_text(app, "These results are from the previous run")
    wait_for_text(app, "Epochs: 1 → 2")
    assert_no_error(app, log_start, "after changing a setting")
    for width, height in ((1400, 1000), (1024, 768)):
        app.page.set_viewport_size({"width": width, "height": height})
        app.screenshot(screenshot_dir / f"transfer_learning-stale-{width}.png")


def chosen_cell(app) -> tuple[str, str]:
    """What the confusion matrix's two boxes show (true, predicted), as the browser draws them."""
    main = app.page.locator(MAIN)
    boxes = [main.get_by_role("combobox", name=n) for n in ("True class", "Predicted as")]
    return boxes[0].input_value(), boxes[1].input_value()


def test_the_weights_say_what_they_are_on_the_textures(app, screenshot_dir: Path) -> None:
    """No ImageNet file (the suite's TORCH_HOME is empty): the synthetic backbone is the
    default and says what it is; random weights with a linear probe warn before Train."""
    from cnnviz import synthetic

    if not synthetic.available():
        pytest.skip("assets/resnet18_synthetic.pt not built")
    start = app.server.log_size()
    app.open("transfer_learning?data=textures")
    wait_for_text(app, "procedurally generated images")
    wait_for_text(app, f"{synthetic.card()['images']:,}")
    for width in (1400, 1024):
        app.page.set_viewport_size({"width": width, "height": 900})
        app.screenshot(screenshot_dir / f"transfer_learning-synthetic-{width}.png")
    app.rerun_after(lambda: app.page.get_by_text("Random initialization", exact=True).click())
    wait_for_text(app, "A linear probe on random weights")
    wait_for_text(app, "nothing to transfer")
    for width in (1400, 1024):
        app.page.set_viewport_size({"width": width, "height": 900})
        app.screenshot(screenshot_dir / f"transfer_learning-random-{width}.png")
    assert_no_error(app, start, "choosing the weights")
