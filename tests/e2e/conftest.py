"""Browser-test fixtures: one Streamlit server and one headless Debian Chromium per session."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from google.protobuf.message import DecodeError
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from cnnviz.server.serve import command as serve_command

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SERVER_START_TIMEOUT_S = 60.0
RUNNING = '[data-testid="stStatusWidget"]'
MAIN = '[data-testid="stMain"]'
MAX_SHOT_PX = 12_000
# Streamlit loads some element kinds lazily (a gray skeleton stands in) and Plotly draws after
# the script has finished: drawn means no skeleton and an SVG in every visible chart.
DRAWN = """() =>
  !document.querySelector('[data-testid^="stSkeleton"], [data-testid="stAppSkeleton"]')
  && [...document.querySelectorAll('[data-testid="stPlotlyChart"]')]
    .filter(chart => chart.offsetParent !== null)
    .every(chart => chart.querySelector('.main-svg'))"""  # polled on every animation frame
PAGE_TIMEOUT_MS = 60_000  # a page's first run imports torch and may build models


@dataclass
class StreamlitServer:
    """The app served by `streamlit run`, and its combined stdout/stderr log."""

    url: str
    log: Path

    def log_text(self, start: int = 0) -> str:
        """The server's output from byte `start` on."""
        with self.log.open("rb") as f:
            f.seek(start)
            return f.read().decode(errors="replace")

    def log_size(self) -> int:
        return self.log.stat().st_size


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return response.read().strip() == b"ok"
    except OSError:
        return False


@contextlib.contextmanager
def serve_app(
    log: Path, *, args: tuple[str, ...] = (), env: dict[str, str] | None = None
) -> Iterator[StreamlitServer]:
    """Run `streamlit run app.py` on a free port until healthy; stop its process group after.
    `args` go to the launcher, `env` into its environment (a class code, a short sweep)."""
    port = _free_port()
    command = [*serve_command(port), *args]
    with log.open("wb") as out:
        # A new session makes the server the leader of its own process group.
        process = subprocess.Popen(
            command,
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **(env or {})},
        )
    app = StreamlitServer(url=f"http://127.0.0.1:{port}", log=log)
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while not _healthy(app.url):
            if process.poll() is not None:
                pytest.fail(f"streamlit exited with {process.returncode}:\n{app.log_text()}")
            if time.monotonic() > deadline:
                pytest.fail(
                    f"streamlit not healthy after {SERVER_START_TIMEOUT_S:.0f} s:\n{app.log_text()}"
                )
            time.sleep(0.2)
        yield app
    finally:
        _stop(process)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StreamlitServer]:
    """The app server shared by the browser tests."""
    with serve_app(tmp_path_factory.mktemp("streamlit") / "server.log") as app:
        yield app


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM the server's process group, SIGKILL it if it lingers."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    except ProcessLookupError:
        pass


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Headless Debian Chromium driven by Playwright (never a Playwright-downloaded browser)."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install it with `apt-get install -y chromium`")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield chromium
        chromium.close()


class AppRuns:
    """What a tab's websocket carries, counted: the whole-app runs the server finished (not a
    fragment's timer runs, e.g. a job panel's every second, which would otherwise pass for the
    run a click started) and the reruns the page asked for (a widget change sends one; a
    fragment's timer sends its own, marked as automatic). The tests' waits and the browser
    benches (bench/appdriver.py) count with this one class."""

    def __init__(self) -> None:
        self.finished = 0  # whole-app runs finished (successfully or with a compile error)
        self.fragment_runs = 0
        self.requested = 0  # reruns the page asked for, not a fragment's timer

    def watch(self, websocket: Any) -> None:
        websocket.on("framereceived", self._received)
        websocket.on("framesent", self._sent)

    def _received(self, payload: bytes | str) -> None:
        if not isinstance(payload, bytes):
            return
        try:
            message = ForwardMsg.FromString(payload)
        except DecodeError:
            return
        if message.WhichOneof("type") != "script_finished":
            return
        status = message.script_finished
        if status == ForwardMsg.ScriptFinishedStatus.FINISHED_FRAGMENT_RUN_SUCCESSFULLY:
            self.fragment_runs += 1
        elif status != ForwardMsg.ScriptFinishedStatus.FINISHED_EARLY_FOR_RERUN:
            self.finished += 1

    def _sent(self, payload: bytes | str) -> None:
        if not isinstance(payload, bytes):
            return
        try:
            message = BackMsg.FromString(payload)
        except DecodeError:
            return
        if message.WhichOneof("type") == "rerun_script" and not message.rerun_script.is_auto_rerun:
            self.requested += 1


@dataclass
class AppTab:
    """A browser tab on the app that knows when the app's script has finished a run."""

    page: object
    server: StreamlitServer
    runs: AppRuns

    def open(self, path: str) -> None:
        """Load `/path` and wait for the page's first run to finish."""
        expected = self.runs.finished + 1
        self.page.goto(f"{self.server.url}/{path}")
        self.wait_for_run(expected)

    def rerun_after(self, action: Callable[[], object]) -> None:
        """Do `action` (a widget change) and wait for the rerun it triggers to finish."""
        expected = self.runs.finished + 1
        action()
        self.wait_for_run(expected)

    def screenshot(self, path: Path) -> None:
        """The whole page: Streamlit scrolls inside its main area, so grow the viewport first."""
        size = self.page.viewport_size
        height = self.page.evaluate(f"() => document.querySelector('{MAIN}').scrollHeight")
        self.page.set_viewport_size(
            {"width": size["width"], "height": min(max(height, size["height"]), MAX_SHOT_PX)}
        )
        try:
            self.page.wait_for_function(DRAWN)
            self.page.screenshot(path=path, full_page=True)
        finally:
            self.page.set_viewport_size(size)

    def wait_for_run(self, count: int) -> None:
        """Wait until `count` whole-app runs have finished and the running indicator is gone."""
        deadline = time.monotonic() + PAGE_TIMEOUT_MS / 1000
        while self.runs.finished < count:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"the app's script did not finish within {PAGE_TIMEOUT_MS / 1000:.0f} s"
                )
            self.page.wait_for_timeout(50)  # lets Playwright deliver websocket events
        self.page.wait_for_selector(RUNNING, state="hidden")
        self.page.wait_for_function(DRAWN)


@contextlib.contextmanager
def open_tab(browser, server: StreamlitServer) -> Iterator[AppTab]:
    """A fresh browser context (its own Streamlit session) with one tab on `server`."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        context.set_default_timeout(PAGE_TIMEOUT_MS)
        page = context.new_page()
        runs = AppRuns()
        page.on("websocket", runs.watch)
        yield AppTab(page=page, server=server, runs=runs)
    finally:
        context.close()


@pytest.fixture
def app(browser, server: StreamlitServer) -> Iterator[AppTab]:
    """A tab of its own on the shared server."""
    with open_tab(browser, server) as tab:
        yield tab


@pytest.fixture
def fresh_app(browser, tmp_path: Path) -> Iterator[AppTab]:
    """A tab on a server of its own that nobody has visited yet."""
    with serve_app(tmp_path / "server.log") as fresh, open_tab(browser, fresh) as tab:
        yield tab


@pytest.fixture(scope="session")
def screenshot_dir(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """Where page screenshots go: --screenshots DIR, else a pytest tmp folder."""
    chosen = request.config.getoption("screenshots")
    folder = Path(chosen) if chosen else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder
