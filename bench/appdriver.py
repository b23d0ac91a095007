"""What the browser benchmarks share: a streamlit server of their own, its CPU and memory from
/proc, and async Playwright sessions that know when a page is ready.

Page-ready is the e2e tests' definition (tests/e2e/conftest.py): the script run the action
started has finished (counted over the session's websocket), the running indicator is gone
and every visible chart is drawn.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
# This checkout's cnnviz and tests, not an installed copy (the venv may belong to another).
sys.path.insert(0, str(REPO))

from cnnviz.server.serve import command as serve_command  # noqa: E402
from tests.e2e.conftest import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    DRAWN,
    RUNNING,
    AppRuns,
    _free_port,
    _healthy,
)

EXCEPTION = '[data-testid="stException"]'
NAV_LINK = '[data-testid="stSidebarNavLink"]'
NAV_MORE = '[data-testid="stSidebarNavViewButton"]'
# Seen from inside the page: how the app's websocket closed (its code, and whether the
# page's own script called close(): the app unmounting, not the network) and the page's
# uncaught errors, reported through the console for Session to read.
WATCH_SOCKETS = """(() => {
  const Native = window.WebSocket;
  const report = (kind, ws, detail) => console.debug(`cnnviz-ws ${kind} ${ws.url} ${detail}`);
  class Watched extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("close", e =>
        report("closed", this, `code=${e.code} clean=${e.wasClean} reason=${e.reason}`));
    }
    close(...args) {
      report("close-called", this, (new Error().stack || "").split("\\n").slice(1, 4).join(" | "));
      return super.close(...args);
    }
  }
  window.WebSocket = Watched;
})();"""
TICK_S = 1 / os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _descendants(pid: int) -> list[int]:
    """pid and every live process below it (the server may fork helpers)."""
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        with contextlib.suppress(OSError):  # a process may end while we look
            for task in Path(f"/proc/{p}/task").glob("*"):
                with contextlib.suppress(OSError):
                    todo += [int(c) for c in (task / "children").read_text().split()]
    return found


def cpu_seconds(pid: int) -> float:
    """utime + stime of the process tree, plus what its reaped children used."""
    total = 0
    for p in _descendants(pid):
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            # fields[0] is field 3 (state): utime, stime, cutime, cstime are fields 14-17
            total += sum(int(v) for v in fields[11:15])
    return total * TICK_S


def rss_bytes(pid: int) -> int:
    total = 0
    for p in _descendants(pid):
        with contextlib.suppress(OSError):
            total += int(Path(f"/proc/{p}/statm").read_text().split()[1]) * PAGE_SIZE
    return total


def pss_bytes(pids: list[int]) -> int:
    """Proportional set size of these processes: shared pages split among their sharers, so
    Chromium's many processes are not counted once per process as RSS would."""
    total = 0
    for p in pids:
        with contextlib.suppress(OSError, ValueError):
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) * 1024
                    break
    return total


def machine_used_bytes() -> int:
    """MemTotal - MemAvailable: what the whole machine uses (other jobs included)."""
    info = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
    return (int(info["MemTotal"].split()[0]) - int(info["MemAvailable"].split()[0])) * 1024


@dataclass
class MachineMemory:
    """Peak memory, sampled in a thread: the browsers (this process's descendants outside the
    server: Playwright's driver and Chromium, as PSS) and the whole machine."""

    server_pid: int
    browsers_peak: int = 0
    machine_peak: int = 0
    _sampling: bool = True

    def browsers(self) -> int:
        server = set(_descendants(self.server_pid))
        mine = [p for p in _descendants(os.getpid()) if p not in server and p != os.getpid()]
        return pss_bytes(mine)

    def sample(self, every_s: float = 2.0) -> None:
        while self._sampling:
            self.browsers_peak = max(self.browsers_peak, self.browsers())
            self.machine_peak = max(self.machine_peak, machine_used_bytes())
            time.sleep(every_s)

    def stop(self) -> None:
        self._sampling = False


@dataclass
class Server:
    """`streamlit run app.py` on a free loopback port, its log and its peak memory."""

    url: str
    process: subprocess.Popen
    log: Path
    peak_rss: int = 0
    _sampling: bool = True

    def cpu(self) -> float:
        return cpu_seconds(self.process.pid)

    def rss(self) -> int:
        return rss_bytes(self.process.pid)

    def sample(self, every_s: float = 0.2) -> None:
        """Runs in a thread: keep the peak RSS seen."""
        while self._sampling and self.process.poll() is None:
            self.peak_rss = max(self.peak_rss, self.rss())
            time.sleep(every_s)

    def tracebacks(self) -> int:
        return self.log.read_text(errors="replace").count("Traceback")


def nginx_folder(log: Path, processes: int) -> Path:
    """Where serve() has run_multi keep nginx's config, pid and logs."""
    return log.parent / f"nginx-{processes}"


def multi_command(processes: int, port: int, folder: Path) -> list[str]:
    """deploy/run_multi.py: `processes` backends on free loopback ports behind nginx on `port`."""
    backends = ",".join(str(_free_port()) for _ in range(processes))
    return [
        sys.executable,
        str(REPO / "deploy" / "run_multi.py"),
        "--processes",
        str(processes),
        "--address",
        "127.0.0.1",
        "--port",
        str(port),
        "--backend-ports",
        backends,
        "--folder",
        str(folder),
    ]


@contextlib.contextmanager
def serve(
    log: Path,
    start_timeout_s: float = 60,
    processes: int = 1,
    env: dict[str, str] | None = None,
) -> Iterator[Server]:
    """Start the app like the e2e tests do (processes > 1: that many behind nginx, all below
    one launcher, so the process tree's CPU and memory are the whole server's); stop its
    process group afterwards."""
    import threading

    port = _free_port()
    if processes == 1:
        command = serve_command(port)
    else:
        command = multi_command(processes, port, nginx_folder(log, processes))
        start_timeout_s += 30 * processes  # they import torch side by side
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **(env or {})},
        )
    server = Server(url=f"http://127.0.0.1:{port}", process=process, log=log)
    sampler = threading.Thread(target=server.sample, daemon=True)
    try:
        wait_until_healthy(server.url, process, log, start_timeout_s)
        sampler.start()
        yield server
    finally:
        server._sampling = False
        stop_group(process)


def wait_until_healthy(
    url: str, process: subprocess.Popen, log: Path, start_timeout_s: float
) -> None:
    """Wait for a server started as `process` to answer its health check at `url`."""
    deadline = time.monotonic() + start_timeout_s
    while not _healthy(url):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"streamlit did not start:\n{log.read_text()}")
        time.sleep(0.1)


def stop_group(process: subprocess.Popen) -> None:
    """Stop `process` and everything it started (its own session's process group)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Any]:
    """Debian's headless Chromium (never a Playwright download)."""
    from playwright.async_api import async_playwright

    if not CHROMIUM.exists():
        raise SystemExit(f"{CHROMIUM} is missing")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            await browser.close()


class LostAction(TimeoutError):
    """No run came after an action: `sent` says whether the page asked the server for one."""

    def __init__(self, seconds: float, sent: bool) -> None:
        where = (
            "the page asked for a rerun, the server never finished one"
            if sent
            else "the page never asked for a rerun"
        )
        super().__init__(f"no run within {seconds:.0f} s: {where}")
        self.sent = sent


@dataclass
class Session:
    """One student: a browser context (its own Streamlit session) with one tab."""

    page: Any
    url: str
    runs: AppRuns = field(default_factory=AppRuns)
    timeout_s: float = 300  # 40 tabs on 2 cores: a first page took 60 s at 8 tabs, load 20
    # A click or key press the page has not turned into a rerun request after this long was
    # lost (the page sends one at once; a page load may take longer under load: not checked).
    lost_after_s: float | None = 30.0
    # (kind, message): "exception" (a red box), "dropped websocket", "page error" (an uncaught
    # error in the page's script), "crash" (the tab's renderer died), ...
    errors: list[tuple[str, str]] = field(default_factory=list)
    last_run_s: float = 0.0  # the last action's time to its run's end, before the drawing
    dropped: int = 0  # app websockets closed by the other end (not by a page load or the end)
    socket_events: list[str] = field(default_factory=list)  # WATCH_SOCKETS' lines, timed
    console: list[str] = field(default_factory=list)  # the page's console errors and warnings
    _open_sockets: int = 0
    _expected_closes: int = 0
    _leaving: bool = False

    def watch(self) -> None:
        """Listen to the tab: the app's websocket, the page's errors, a renderer crash."""
        self.page.on("websocket", self.runs.watch)
        self.page.on("websocket", self.watch_socket)
        self.page.on("console", self._console)
        self.page.on("pageerror", self._page_error)
        self.page.on("crash", lambda _: self._error("crash", "the tab's renderer crashed"))

    def _error(self, kind: str, message: str) -> None:
        if not self._leaving:
            self.errors.append((kind, f"{time.strftime('%H:%M:%S')} {message}"))

    def _console(self, message: Any) -> None:
        text = message.text
        if text.startswith("cnnviz-ws ") and "/_stcore/stream" in text:
            self.socket_events.append(f"{time.strftime('%H:%M:%S')} {text[10:]}")
        elif message.type in ("error", "warning"):  # the app's own account, for a drop
            self.console.append(f"{time.strftime('%H:%M:%S')} {message.type}: {text[:300]}")

    def _page_error(self, error: Any) -> None:
        self._error("page error", str(error).splitlines()[0][:200])

    def watch_socket(self, websocket: Any) -> None:
        """Count the app's websocket (/_stcore/stream) closing when nobody asked it to."""
        if not websocket.url.endswith("/_stcore/stream"):
            return
        self._open_sockets += 1
        websocket.on("close", lambda _: self._closed())

    def _closed(self) -> None:
        self._open_sockets -= 1
        if self._expected_closes:
            self._expected_closes -= 1
        elif not self._leaving:
            self.dropped += 1
            self._error("dropped websocket", "the app's websocket closed")

    def drop_details(self) -> list[str]:
        """How the page saw its websocket close (code, who called close()): for the report."""
        return [*self.socket_events, *self.console[-6:]]

    async def timed(self, action: Callable[[], Awaitable[object]], load: bool = False) -> float:
        """Seconds from `action` to page-ready (the app run it starts finished and drawn).
        LostAction if the page asked for no rerun within `lost_after_s` (unless `load`: a page
        load), or no run finished within `timeout_s`."""
        expected, asked = self.runs.finished + 1, self.runs.requested
        start = time.perf_counter()
        await action()
        acted = time.monotonic()
        lost_after = None if load else self.lost_after_s
        while self.runs.finished < expected:
            waited = time.monotonic() - acted
            if lost_after is not None and waited > lost_after and self.runs.requested == asked:
                raise LostAction(lost_after, sent=False)
            if waited > self.timeout_s:
                raise LostAction(self.timeout_s, sent=self.runs.requested > asked)
            await self.page.wait_for_timeout(20)
        self.last_run_s = time.perf_counter() - start
        await self.page.wait_for_selector(RUNNING, state="hidden")
        await self.page.wait_for_function(DRAWN, polling=50)
        elapsed = time.perf_counter() - start
        shown = self.page.locator(EXCEPTION)
        if await shown.count():
            self._error("exception", (await shown.first.inner_text())[:200])
        return elapsed

    async def open(self, path: str) -> float:
        self._expected_closes += self._open_sockets  # a page load closes the old socket
        return await self.timed(lambda: self.page.goto(f"{self.url}/{path}"), load=True)

    async def nav(self, path: str) -> float:
        """Click the sidebar link to `/path`, as a student does (same session, no reload)."""
        link = self.page.locator(f'{NAV_LINK}[href="{self.url}/{path}"]')
        if not await link.is_visible():
            more = self.page.locator(NAV_MORE)
            if await more.count() and "more" in await more.inner_text():
                await more.click()
        return await self.timed(link.click)


@contextlib.asynccontextmanager
async def session(browser: Any, url: str, width: int = 1400) -> AsyncIterator[Session]:
    context = await browser.new_context(viewport={"width": width, "height": 900})
    student = None
    try:
        context.set_default_timeout(300_000)
        await context.add_init_script(WATCH_SOCKETS)
        page = await context.new_page()
        student = Session(page=page, url=url)
        student.watch()
        yield student
    finally:
        if student is not None:
            student._leaving = True
        await context.close()


# One representative widget per page (by its key's st-key-* class) and how to change it.
async def _step_number(s: Session, key: str) -> float:
    return await s.timed(s.page.locator(f".st-key-{key} [data-testid=stNumberInputStepUp]").click)


async def _slider_right(s: Session, key_prefix: str) -> float:
    thumb = s.page.locator(f"[class*='st-key-{key_prefix}'] input[type=range]").first
    if not await thumb.count():
        thumb = s.page.locator("[data-testid=stSlider] input[type=range]").first
    await thumb.focus()
    return await s.timed(lambda: thumb.press("ArrowRight"))


async def _choose(s: Session, key: str, label: str) -> float:
    """Pick an option of a horizontal radio (or a segmented control) by its text."""
    options = s.page.locator(f".st-key-{key} label, .st-key-{key} button")
    option = options.filter(has_text=re.compile(rf"^\s*{re.escape(label)}\s*$")).first
    return await s.timed(option.click)


async def _select(s: Session, key: str, option: str) -> float:
    await s.page.locator(f".st-key-{key} button[aria-label=Open]").click()
    choice = s.page.locator("[role=option]").filter(has_text=option).first
    return await s.timed(choice.click)


@dataclass(frozen=True)
class Step:
    """A page (its URL path, '' for home) and one widget change on it."""

    title: str
    path: str
    widget: str
    change: Callable[[Session], Awaitable[float]] | None


CLASS_TOUR: tuple[Step, ...] = (
    Step("Home", "", "-", None),
    Step("VGG", "vgg", "input size +1", lambda s: _step_number(s, "vgg_hw")),
    Step("ResNet", "resnet", "depth 18", lambda s: _choose(s, "resnet_depth", "18")),
    Step("GoogLeNet", "googlenet", "input size +1", lambda s: _step_number(s, "googlenet_hw")),
    Step(
        "Receptive fields",
        "receptive_field",
        "unit row +1",
        lambda s: _slider_right(s, "receptive_field_grid_"),
    ),
)


async def tour(
    s: Session,
    steps: tuple[Step, ...],
    times: dict[str, list[float]],
    runs: dict[str, list[float]] | None = None,
) -> None:
    """Visit every step's page (first by URL, then by the sidebar) and change its widget;
    `times` gets page-ready times, `runs` the times to the end of the script run alone."""
    runs = {} if runs is None else runs
    for n, step in enumerate(steps):
        took = await (s.open(step.path) if n == 0 else s.nav(step.path))
        times.setdefault(f"{step.title}: page", []).append(took)
        runs.setdefault(f"{step.title}: page", []).append(s.last_run_s)
        if step.change is not None:
            took = await step.change(s)
            times.setdefault(f"{step.title}: {step.widget}", []).append(took)
            runs.setdefault(f"{step.title}: {step.widget}", []).append(s.last_run_s)


def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(coro)  # type: ignore[arg-type]
