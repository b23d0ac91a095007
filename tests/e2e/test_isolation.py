"""Two students on one server (two browser contexts): what one uploads and trains never
shows in the other's page, not after a refresh, and not through the first one's URL without
its `jobs` parameter (the job id alone is not enough to reach another session's job)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import pytest

from cnnviz.ui.jobs import SESSION_PARAM
from tests.e2e.conftest import open_tab
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


def without(url: str, param: str) -> str:
    parts = urlsplit(url)
    query = {k: v for k, v in parse_qs(parts.query).items() if k != param}
    return urlunsplit(parts._replace(query=urlencode(query, doseq=True)))


def assert_not_theirs(tab, when: str) -> None:
    text = main_text(tab)
    assert not [t for t in THEIRS if t in text], f"{when}: the other student's data or run"


def test_one_students_upload_and_job_never_reach_another(browser, server) -> None:
    start = server.log_size()
    with open_tab(browser, server) as first, open_tab(browser, server) as second:
        upload_and_train(first)
        url = first.page.url
        assert parse_qs(urlsplit(url).query).get(JOB_PARAM), url  # the job is in the URL
        # The second student opens the page: the built-in digits, no upload, no run.
        second.open("transfer_learning")
        assert_not_theirs(second, "a fresh visit")
        second.rerun_after(lambda: second.page.get_by_text("Upload a .zip").click())
        assert_not_theirs(second, "the upload option")
        # ... and the first one's URL without its jobs key: the job id alone finds nothing,
        # and the stale id is dropped from the URL.
        stolen = without(url, SESSION_PARAM)
        expected = second.runs.finished + 1
        second.page.goto(stolen)
        second.wait_for_run(expected)
        assert_not_theirs(second, "the first one's URL minus jobs")
        second.page.wait_for_function("p => !location.search.includes(p)", arg=JOB_PARAM)
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
