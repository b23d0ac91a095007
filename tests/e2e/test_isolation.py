"""Two students on one server (two browser contexts): what one uploads and trains never
shows in the other's page, not after a refresh, and not through the first one's address: a
job belongs to the browser that started it (its HttpOnly cookie), never to a link. A browser
that has gone (its context closed, the reconnect window over) leaves nothing running."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from cnnviz.ui.jobs import FOREIGN_JOB
from tests.e2e.conftest import open_tab, serve_app
from tests.e2e.test_pages import assert_no_error
from tests.e2e.test_transfer_learning import TRAIN_TIMEOUT_MS, set_number, wait_for_text
from tests.test_transfer_learning_page import tiny_zip

pytestmark = pytest.mark.e2e

MAIN = '[data-testid="stMain"]'
JOB_PARAM = "transfer_learning_job"
# What only the first student's upload and run put on the page.
THEIRS = ("1 file skipped", "4. Results", "Download the trained model")


def main_text(tab) -> str:
    return tab.page.locator(MAIN).inner_text()


def upload_and_train(tab) -> None:
    """The cheapest run: 16 px, the tiny zip, random weights, a linear probe, one epoch."""
    tab.open("transfer_learning")
    set_number(tab, "Image side", 16)
    wait_for_text(tab, "16x16")
    tab.rerun_after(lambda: tab.page.get_by_text("Upload a .zip").click())
    upload = tab.page.locator(f"{MAIN} [data-testid='stFileUploader'] input[type='file']")
    zipped = {"name": "shapes.zip", "mimeType": "application/zip", "buffer": tiny_zip()}
    tab.rerun_after(lambda: upload.first.set_input_files(files=[zipped]))
    wait_for_text(tab, "1 file skipped")
    if "Random initialization: what" not in main_text(tab):  # ImageNet's file is here
        tab.rerun_after(lambda: tab.page.get_by_text("Random initialization", exact=True).click())
        wait_for_text(tab, "Random initialization: what")
    set_number(tab, "Epochs", 1)
    wait_for_text(tab, "Trainable parameters")
    tab.page.get_by_role("button", name="Train", exact=True).click()
    tab.page.get_by_text("4. Results").wait_for(timeout=TRAIN_TIMEOUT_MS)


def assert_not_theirs(tab, when: str) -> None:
    text = main_text(tab)
    assert not [t for t in THEIRS if t in text], f"{when}: the other student's data or run"


def test_one_students_upload_and_job_never_reach_another(browser, server) -> None:
    start = server.log_size()
    with open_tab(browser, server) as first, open_tab(browser, server) as second:
        upload_and_train(first)
        url = first.page.url
        assert JOB_PARAM not in parse_qs(urlsplit(url).query), url  # no job in the address
        # The second student opens the page: the built-in digits, no upload, no run.
        second.open("transfer_learning")
        assert_not_theirs(second, "a fresh visit")
        second.rerun_after(lambda: second.page.get_by_text("Upload a .zip").click())
        assert_not_theirs(second, "the upload option")
        # ... and the first one's address as it is: the view, not the run.
        expected = second.runs.finished + 1
        second.page.goto(url)
        second.wait_for_run(expected)
        assert_not_theirs(second, "the first one's address")
        expected = second.runs.finished + 1
        second.page.reload()
        second.wait_for_run(expected)
        assert_not_theirs(second, "after a refresh")
        # The first student's refresh finds the run again (the check above can fail).
        expected = first.runs.finished + 1
        first.page.reload()
        first.wait_for_run(expected)
        first.page.get_by_text("4. Results").wait_for(timeout=TRAIN_TIMEOUT_MS)
        assert_no_error(first, start, "after both students")
        assert_no_error(second, start, "after both students")


def start_long_training(tab) -> None:
    """The built-in digits, fully fine-tuned for 100 epochs (many minutes on a CPU): a job
    that is still running, or still queued, while the test looks."""
    tab.open("transfer_learning")
    tab.rerun_after(lambda: tab.page.get_by_text("Full fine-tune", exact=True).first.click())
    set_number(tab, "Epochs", 100)
    wait_for_text(tab, "Trainable parameters")
    tab.page.get_by_role("button", name="Train", exact=True).click()


def panel_button(tab, name: str):
    return tab.page.locator(MAIN).get_by_role("button", name=name, exact=True)


def test_a_running_job_is_its_browsers_only(browser, server) -> None:
    """The issue's report: B opened A's address and got A's progress and a Stop button that
    stopped A's job. Now B sees the page's default; a link naming the job (as older versions
    wrote it) gets one notice; A's refresh and A's second tab still find and stop it."""
    start = server.log_size()
    with open_tab(browser, server) as a, open_tab(browser, server) as b:
        start_long_training(a)
        panel_button(a, "Stop").or_(panel_button(a, "Leave the queue")).wait_for()
        url = a.page.url
        assert JOB_PARAM not in url and "jobs=" not in url, url

        expected = b.runs.finished + 1
        b.page.goto(url)
        b.wait_for_run(expected)
        for name in ("Stop", "Leave the queue"):
            assert not panel_button(b, name).count(), f"B got A's {name} button"
        assert not b.page.locator(f"{MAIN} [data-testid='stProgress']").count(), "A's progress"
        assert "in the queue" not in main_text(b)
        expected = b.runs.finished + 1
        b.page.goto(f"{url}{'&' if '?' in url else '?'}{JOB_PARAM}=someone-elses-job")
        b.wait_for_run(expected)
        wait_for_text(b, FOREIGN_JOB.split(":")[0])
        assert not panel_button(b, "Stop").count()
        b.page.wait_for_function("p => !location.search.includes(p)", arg=JOB_PARAM)

        # A's refresh, and a second tab of A's browser, find the job; A stops it.
        expected = a.runs.finished + 1
        a.page.reload()
        a.wait_for_run(expected)
        panel_button(a, "Stop").or_(panel_button(a, "Leave the queue")).wait_for()
        second_tab = a.page.context.new_page()
        second_tab.goto(f"{server.url}/transfer_learning")
        second_tab.locator(MAIN).get_by_text("Stop", exact=True).or_(
            second_tab.locator(MAIN).get_by_text("Leave the queue", exact=True)
        ).first.wait_for(timeout=TRAIN_TIMEOUT_MS)
        second_tab.close()
        panel_button(a, "Stop").or_(panel_button(a, "Leave the queue")).click()
        a.page.get_by_text("Stopped after").or_(a.page.get_by_text("Finished in")).first.wait_for(
            timeout=TRAIN_TIMEOUT_MS
        )
        assert_no_error(a, start, "after the stop")
        assert_no_error(b, start, "after the stop")


TTL_S = 2  # server.disconnectedSessionTTL of the test server: the reconnect window
SWEEP_S = 1  # CNNVIZ_SWEEP_SECONDS: how often the server looks for browsers that have gone


def test_a_browser_that_has_gone_leaves_nothing_running(browser, tmp_path: Path) -> None:
    """A starts a long run; B's run waits behind it (one slot). A's browser closes: once the
    reconnect window and a sweep have passed, A's job is stopped and B's starts. Then the
    server stops with B's job running, cleanly (no `terminate called` abort)."""
    args = ("--server.disconnectedSessionTTL", str(TTL_S))
    env = {"CNNVIZ_SWEEP_SECONDS": str(SWEEP_S), "CNNVIZ_JOBS_PER_DEVICE": "1"}
    with serve_app(tmp_path / "server.log", args=args, env=env) as server:
        with open_tab(browser, server) as b:
            with open_tab(browser, server) as a:
                start_long_training(a)
                panel_button(a, "Stop").wait_for(timeout=TRAIN_TIMEOUT_MS)
                start_long_training(b)
                wait_for_text(b, "number 1 in the queue")
            closed = time.monotonic()  # A's browser context is closed
            panel_button(b, "Stop").wait_for(timeout=60_000)  # B's job has the slot now
            waited = time.monotonic() - closed
            assert waited < 30, f"A's job kept the slot {waited:.0f} s after A left"
        log = server.log_size()
    text = server.log_text()
    assert "terminate called" not in text[log:], text[log:]
