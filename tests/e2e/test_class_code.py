"""The class code in a real browser: a server started with CNNVIZ_CLASS_CODE shows only the
code's form until the right code is typed, once per browser; a wrong code and a browser
without the cookie get nothing of the app; a loopback server without a code (every other
browser test's) needs none."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.e2e.conftest import MAIN, open_tab, serve_app

pytestmark = pytest.mark.e2e

CODE = "ROOM-2718"
FIELD = "input[type='password']"


def status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


def test_only_the_class_gets_in(browser, tmp_path: Path, screenshot_dir: Path) -> None:
    with serve_app(tmp_path / "server.log", env={"CNNVIZ_CLASS_CODE": CODE}) as server:
        assert f"class code {CODE}" in server.log_text()
        # No cookie: no page, no script, no upload (from 127.0.0.1, as behind nginx).
        assert status(f"{server.url}/vgg") == 401
        assert status(f"{server.url}/_stcore/host-config") == 401
        assert status(f"{server.url}/_stcore/health") == 200
        with open_tab(browser, server) as tab:
            page = tab.page
            page.goto(f"{server.url}/vgg?depth=16")
            page.wait_for_selector(FIELD)
            assert not page.locator(MAIN).count(), "the app showed before the code"
            for width in (1400, 1024):
                page.set_viewport_size({"width": width, "height": 700})
                page.screenshot(path=screenshot_dir / f"class_code_{width}.png")
            page.set_viewport_size({"width": 1400, "height": 900})
            page.fill(FIELD, "ROOM-2719")
            page.get_by_role("button", name="Enter").click()
            page.get_by_text("That is not this class's code").wait_for()
            assert not page.locator(MAIN).count()
            # The right code, typed as a student might: lower case, no dash.
            page.fill(FIELD, "room 2718")
            expected = tab.runs.finished + 1
            page.get_by_role("button", name="Enter").click()
            tab.wait_for_run(expected)  # the websocket got through: the app ran
            assert urlsplit(page.url).path == "/vgg", page.url  # back where they were going
            assert "VGG" in page.locator(MAIN).inner_text()
            # Once per browser: a new tab of the same browser goes straight in.
            other = page.context.new_page()
            other.goto(f"{server.url}/alexnet")
            other.locator(MAIN).get_by_text("AlexNet").first.wait_for()
            assert not other.locator(FIELD).count()
            other.close()
        # Another browser (no cookie) is asked again.
        with open_tab(browser, server) as stranger:
            stranger.page.goto(server.url)
            stranger.page.wait_for_selector(FIELD)
            assert not stranger.page.locator(MAIN).count()
