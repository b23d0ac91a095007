"""A preset link in a real browser: the link opens the view, a widget change rewrites the
address bar, and the "Copy link to this view" box holds the full URL of the view."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest

pytestmark = pytest.mark.e2e

MAIN = '[data-testid="stMain"]'
SIDEBAR = '[data-testid="stSidebar"]'


def query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlparse(url).query)


def test_a_vgg_link_opens_the_view_and_follows_the_widgets(app) -> None:
    app.open("vgg?depth=19&size=200&tab=table")
    main = app.page.locator(MAIN)
    selected = main.locator('[role="tab"][aria-selected="true"]').first
    assert selected.inner_text() == "Layer table"
    checked = main.locator('[data-testid="stRadio"] label:has(input:checked)').first
    assert checked.inner_text().strip() == "19"
    size = main.locator('[data-testid="stNumberInput"] input').first
    assert size.input_value() == "200"
    assert "VGG-19 has" in main.inner_text()

    app.rerun_after(main.locator('[data-testid="stRadio"] label').filter(has_text="13").click)
    app.page.wait_for_function("() => location.search.includes('depth=13')")
    assert query(app.page.url) == {"depth": ["13"], "size": ["200"], "tab": ["table"]}

    app.page.locator(SIDEBAR).get_by_role("button", name="Copy link to this view").click()
    code = app.page.locator('[data-testid="stPopoverBody"] code').first
    code.wait_for(state="visible")
    link = code.inner_text().strip()
    assert link.startswith(f"{app.server.url}/vgg?")
    assert query(link) == {"depth": ["13"], "size": ["200"], "tab": ["table"]}


def test_an_invalid_link_shows_a_notice_and_the_default(app) -> None:
    app.open("vgg?depth=17")
    main = app.page.locator(MAIN)
    assert "depth='17' is not one of the options" in main.inner_text()
    checked = main.locator('[data-testid="stRadio"] label:has(input:checked)').first
    assert checked.inner_text().strip() == "16"
    app.page.wait_for_function("() => !location.search.includes('depth')")
