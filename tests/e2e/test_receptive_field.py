"""The receptive-field page's unit grid in a real browser: a click on a cell picks its unit.

The grid is a heatmap under transparent scatter targets (Streamlit reports clicks on scatter
points only); on a large map one target stands for a block of units. The oracle is the unit
the target was drawn for (`click_targets`) and the page's own title for that unit.
"""

from __future__ import annotations

import pytest

from cnnviz.plots.receptive_field import click_targets
from tests.e2e.test_pages import MAIN, assert_no_error

pytestmark = pytest.mark.e2e

GRID = f"{MAIN} [class*='st-key-receptive_field_grid_']"
TARGETS = f"{GRID} .scatterlayer .trace:first-child .point"
LAYER = f"{MAIN} .st-key-receptive_field_layer_resnet18"


def sliders(app) -> tuple[int, int]:
    """(row i, column j) as the two unit sliders hold them."""
    thumbs = app.page.locator(f"{MAIN} [data-testid=stSlider] input[type=range]")
    return int(thumbs.nth(0).input_value()), int(thumbs.nth(1).input_value())


def click_target(app, rows: int, cols: int, i: int, j: int) -> None:
    """Click the grid's target for unit (i, j) (targets run row by row)."""
    ti, tj = list(click_targets(rows)), list(click_targets(cols))
    point = app.page.locator(TARGETS).nth(ti.index(i) * len(tj) + tj.index(j))
    app.rerun_after(lambda: point.click(force=True))


def choose_layer(app, layer: str) -> None:
    """Type the layer into the select box's search and pick its option (the list is long)."""
    box = app.page.locator(f"{LAYER} input[role=combobox]")
    box.click()
    box.fill(layer)
    option = app.page.get_by_role("option", name=layer, exact=True)
    option.wait_for()
    app.rerun_after(option.click)


def test_a_click_on_a_cell_picks_its_unit(app) -> None:
    log_start = app.server.log_size()
    app.open("receptive_field")
    assert app.page.locator(TARGETS).count() == 14 * 14  # layer3: one target per unit
    click_target(app, 14, 14, 2, 5)
    assert sliders(app) == (2, 5)
    app.page.get_by_text("Unit (2, 5) sees rows").first.wait_for()
    # A 112x112 map: one target per block of 4x4 units, at the block's center.
    choose_layer(app, "conv1")
    assert app.page.locator(TARGETS).count() == 28 * 28
    i, j = int(click_targets(112)[3]), int(click_targets(112)[20])
    click_target(app, 112, 112, i, j)
    assert sliders(app) == (i, j) == (13, 81)
    app.page.get_by_text(f"Unit ({i}, {j}) sees rows").first.wait_for()
    assert_no_error(app, log_start, "after clicks on the unit grid")
