"""Every page of the app in a real browser: it renders, shows no error, survives one widget change.

The pages come from `cnnviz.ui.navigation.PAGES`, so a page added there is tested without edits.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cnnviz.ui.navigation import PAGES, PageEntry

pytestmark = pytest.mark.e2e

MAIN = '[data-testid="stMain"]'
TITLE = f"{MAIN} h1"
EXCEPTION = '[data-testid="stException"]'
NAV_LINK = '[data-testid="stSidebarNavLink"]'
NAV_LABELS = f'{NAV_LINK} [data-testid="stMarkdownContainer"]'
NAV_MORE = '[data-testid="stSidebarNavViewButton"]'
OUTSIDE_FORMS = ":not([data-testid='stForm'] *)"  # widgets in a form do not rerun on change
SETTLE_MS = 15_000  # once the script has finished, its elements are drawn within this


def url_path(entry: PageEntry) -> str:
    """Streamlit's pathname for a page: the file stem, or '' for the default page."""
    return "" if entry.default else Path(entry.path).stem


def assert_no_error(app, log_start: int, when: str) -> None:
    """No exception box, no traceback in the page, none in the server's log since `log_start`."""
    exceptions = app.page.locator(EXCEPTION)
    if exceptions.count():
        shown = exceptions.first.inner_text()
        pytest.fail(
            f"exception shown {when}: {shown}\nserver log:\n{app.server.log_text(log_start)}"
        )
    assert "Traceback" not in app.page.locator("body").inner_text(), f"traceback shown {when}"
    log = app.server.log_text(log_start)
    assert "Traceback" not in log, f"the server logged an error {when}:\n{log}"


def nav_titles(page) -> list[str]:
    """The page titles the sidebar navigation lists (expanded if Streamlit collapsed it)."""
    more = page.locator(NAV_MORE)
    if more.count() and "more" in more.inner_text():
        more.click()
    return [text.strip() for text in page.locator(NAV_LABELS).all_inner_texts()]


def change_number_input(app, widget) -> str | None:
    """Step a number input up (down at its maximum), typing the value if it shows no buttons."""
    field = widget.locator("input")
    if not field.is_enabled():
        return None
    before = field.input_value()
    for button in ("stNumberInputStepUp", "stNumberInputStepDown"):
        step = widget.locator(f"[data-testid='{button}']")
        if step.count() and step.is_visible() and step.is_enabled():
            app.rerun_after(step.click)
            break
    else:  # narrow columns hide the step buttons
        field.fill(stepped(before, field))
        app.rerun_after(lambda: field.press("Enter"))
    after = field.input_value()
    assert after != before, f"the number input kept {before!r}"
    return f"number input {before} -> {after}"


def stepped(value: str, field) -> str:
    """`value` one step up, or one step down if that passes the field's maximum."""
    step = float(field.get_attribute("step") or 1)
    top = field.get_attribute("max")
    new = float(value or 0) + step
    if top is not None and new > float(top):
        new = float(value) - step
    return str(int(new)) if new.is_integer() and step.is_integer() else str(new)


def change_slider(app, thumb) -> str | None:
    """Move a slider one step with the keyboard, as a user would."""
    if not thumb.is_enabled():
        return None
    before = thumb.input_value()
    key = "ArrowLeft" if before == thumb.get_attribute("max") else "ArrowRight"
    thumb.focus()
    app.rerun_after(lambda: thumb.press(key))
    after = thumb.input_value()
    assert after != before, f"the slider kept {before!r} after {key}"
    return f"slider {before} -> {after}"


def change_selectbox(app, widget) -> str | None:
    """Pick the first option that is not selected."""
    if not widget.locator("input").is_enabled():
        return None
    widget.click()
    options = app.page.locator("[role='option'][aria-selected='false']")
    if not options.count():
        app.page.keyboard.press("Escape")
        return None
    choice = options.first.inner_text()
    app.rerun_after(options.first.click)
    return f"selectbox -> {choice}"


def change_checkbox(app, box) -> str | None:
    """Flip a checkbox or toggle."""
    if not box.is_enabled():
        return None
    before = box.is_checked()
    app.rerun_after(lambda: box.click(force=True))  # the input is visually hidden
    assert box.is_checked() != before, "the checkbox did not flip"
    return f"checkbox {before} -> {not before}"


def change_first_widget(app) -> str | None:
    """Change the first widget of the first kind the page body has; say what was done."""
    main = app.page.locator(MAIN)
    kinds = (
        (f"[data-testid='stNumberInput']{OUTSIDE_FORMS}", change_number_input),
        (f"[data-testid='stSlider']{OUTSIDE_FORMS} input[type='range']", change_slider),
        (f"[data-testid='stSelectbox']{OUTSIDE_FORMS}", change_selectbox),
        (f"[data-testid='stCheckbox']{OUTSIDE_FORMS} input", change_checkbox),
    )
    for selector, change in kinds:
        widget = main.locator(selector).first
        if widget.count():
            done = change(app, widget)
            if done:
                return done
    return None


@pytest.mark.screenshot
@pytest.mark.parametrize("entry", PAGES, ids=[p.title for p in PAGES])
def test_page_renders_and_reacts(app, screenshot_dir: Path, entry: PageEntry) -> None:
    """The page loads without error, lists every page in its sidebar and survives a change."""
    log_start = app.server.log_size()
    app.open(url_path(entry))
    app.screenshot(screenshot_dir / f"{Path(entry.path).stem}.png")

    assert_no_error(app, log_start, "on load")
    app.page.locator(TITLE).first.wait_for(state="visible", timeout=SETTLE_MS)
    missing = [p.title for p in PAGES if p.title not in nav_titles(app.page)]
    assert not missing, f"the sidebar navigation lacks {missing}"

    changed = change_first_widget(app)
    print(f"{entry.title}: {changed or 'no widget to change'}")
    assert_no_error(app, log_start, f"after {changed or 'loading'}")
    assert app.page.locator(TITLE).first.is_visible()


def test_sidebar_link_opens_page(app) -> None:
    """Clicking a page in the sidebar changes the URL and the page shown."""
    home = next(p for p in PAGES if p.default)
    target = next(p for p in PAGES if not p.default)
    app.open(url_path(home))
    home_title = app.page.locator(TITLE).first.inner_text(timeout=SETTLE_MS)

    link = app.page.locator(NAV_LINK).filter(has=app.page.locator(f"[label='{target.title}']"))
    app.rerun_after(link.click)
    app.page.wait_for_url(f"{app.server.url}/{url_path(target)}")
    title = app.page.locator(TITLE).first
    title.wait_for(state="visible", timeout=SETTLE_MS)
    assert title.inner_text() != home_title, "the page title did not change"


@pytest.mark.slow
def test_deep_link_on_fresh_server(fresh_app) -> None:
    """A link straight to a page shows the app's navigation even as the server's first visit.

    Streamlit runs a page script alone (its old pages/ mode) until some session has run
    app.py's st.navigation; the launcher switches that mode off before the server starts
    (cnnviz/server/routing.py). One fresh server
    per page is too slow, so this takes the last page: where a newly added page usually goes.
    """
    target = [p for p in PAGES if not p.default][-1]
    fresh_app.open(url_path(target))
    titles = nav_titles(fresh_app.page)
    missing = [p.title for p in PAGES if p.title not in titles]
    assert not missing, f"a first visit to /{url_path(target)} shows the navigation {titles}"
