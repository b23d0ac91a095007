"""Two Streamlit processes behind nginx (deploy/run_multi.py): every request of a browser
reaches one process, its first one included, and an upload works through the proxy; nginx's
workers are not root; a class behind one address is not limited, one client flooding is."""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.e2e.conftest import StreamlitServer, _free_port, open_tab
from tests.e2e.test_pages import assert_no_error
from tests.e2e.test_transfer_learning import wait_for_text
from tests.test_transfer_learning_page import tiny_zip

sys.path.insert(0, str(ROOT / "deploy"))
sys.path.insert(0, str(ROOT / "bench"))
import proxy_limits
import run_multi

pytestmark = pytest.mark.e2e

MAIN = '[data-testid="stMain"]'
LINE = re.compile(r'"(?P<method>\S+) (?P<path>\S+) [^"]*" (?P<status>\d+) '
                  r"route=(?P<route>\S+) upstream=(?P<upstream>\S+)")  # fmt: skip


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[StreamlitServer, Path]]:
    if run_multi.nginx_binary() is None:
        pytest.skip("nginx is missing: apt-get install -y nginx")
    folder = tmp_path_factory.mktemp("nginx")
    ports = [_free_port() for _ in range(2)]
    with run_multi.cluster(2, "127.0.0.1", _free_port(), folder, ports) as running:
        # The backends write to this process's output; the proxy's errors to its own log.
        yield StreamlitServer(url=running.url, log=folder / "error.log"), folder


def requests(folder: Path) -> list[dict[str, str]]:
    lines = (folder / "access.log").read_text().splitlines()
    return [m.groupdict() for line in lines if (m := LINE.search(line))]


def test_one_route_one_process_and_both_processes_used(proxied) -> None:
    server, folder = proxied
    routes = [f"student{n}" for n in range(24)]
    for _ in range(2):
        for route in routes:
            request = urllib.request.Request(
                f"{server.url}/_stcore/health", headers={"Cookie": f"cnnviz_route={route}"}
            )
            with urllib.request.urlopen(request, timeout=10) as response:
                assert response.read().strip() == b"ok"
                set_cookies = response.headers.get_all("Set-Cookie") or []
                assert not [c for c in set_cookies if "cnnviz_route" in c]  # it has one
    served: dict[str, set[str]] = {}
    for r in requests(folder):
        if r["route"] in routes:
            served.setdefault(r["route"], set()).add(r["upstream"])
    assert set(served) == set(routes)
    assert all(len(upstreams) == 1 for upstreams in served.values()), served
    assert len(set().union(*served.values())) == 2  # 24 routes all on one process: 2^-23


def test_a_browser_uploads_through_the_proxy_to_its_own_process(browser, proxied) -> None:
    server, folder = proxied
    with open_tab(browser, server) as tab:
        tab.open("transfer_learning")
        cookie = {c["name"]: c["value"] for c in tab.page.context.cookies()}["cnnviz_route"]
        tab.rerun_after(lambda: tab.page.get_by_text("Upload a .zip").click())
        upload = tab.page.locator(f"{MAIN} [data-testid='stFileUploader'] input[type='file']")
        zipped = {"name": "shapes.zip", "mimeType": "application/zip", "buffer": tiny_zip()}
        tab.rerun_after(lambda: upload.first.set_input_files(files=[zipped]))
        wait_for_text(tab, "1 file skipped")  # the upload reached the session's process
        assert_no_error(tab, 0, "after an upload through nginx")
    # A websocket is logged when nginx sees it close, a moment after the context is gone.
    deadline = time.monotonic() + 10
    while True:
        mine = [r for r in requests(folder) if r["route"] == cookie]
        if any(r["path"] == "/_stcore/stream" for r in mine) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    first = next(r for r in mine if r["path"] == "/transfer_learning")
    kinds = {
        "page": [first],
        "websocket": [r for r in mine if r["path"] == "/_stcore/stream"],
        "upload": [r for r in mine if r["path"].startswith("/_stcore/upload_file/")],
    }
    assert all(kinds.values()), {k: len(v) for k, v in kinds.items()}
    assert {r["status"] for r in kinds["upload"]} <= {"200", "204"}
    # the first request (no cookie yet) was hashed on the value it then set as the cookie
    assert {r["upstream"] for r in mine} == {first["upstream"]}


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == pid:  # the field after the state: the parent's pid
                    found.append(int(entry.name))
    return found


def _uid(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"^Uid:\s+(\d+)", status, re.M).group(1))


def test_nginx_workers_are_not_root(proxied) -> None:
    """Started as root, the master hands the workers (which read what students send) to
    www-data or nobody; the pages, files and uploads of the other tests went through them."""
    _, folder = proxied
    master = int((folder / "nginx.pid").read_text())
    workers = _children(master)
    assert workers, "no nginx worker"
    expected = os.geteuid() if os.geteuid() != 0 else pwd.getpwnam(run_multi.worker_user()).pw_uid
    assert {_uid(w) for w in workers} == {expected}
    if os.geteuid() == 0:
        assert expected != 0
    assert "Permission denied" not in (folder / "error.log").read_text()


def test_a_class_behind_one_address_is_not_limited_but_a_flood_is(browser, proxied) -> None:
    """40 new browsers from one address (a real page load replayed: the page, ~100 script
    files over 6 connections, then the websocket) get no 429; one client opening sessions
    beyond the burst, from another address, gets 429 (not nginx's default 503)."""
    server, _ = proxied
    load = proxy_limits.record_page_load(server.url, browser)
    assert sum(p.startswith("/static/") for p in load.paths) >= 50, load.paths
    tally, _ = proxy_limits.class_load(server.url, load, 40, 3.0, "127.0.0.2")
    assert tally.statuses("websocket") == {101: 40}
    assert set(tally.statuses("request")) == {200}, tally.statuses("request")
    assert sum(tally.statuses("request").values()) == 40 * len(load.paths)

    limits = run_multi.class_limits(ping_s=run_multi.ping_interval_s())
    beyond = 120
    statuses, _ = proxy_limits.handshake_flood(
        server.url, load.websocket, limits.sessions_burst + beyond, "127.0.0.3"
    )
    # the burst and what the rate (2 a second) refilled meanwhile are admitted; the rest: 429
    assert set(statuses) == {101, 429}, statuses
    assert limits.sessions_burst <= statuses[101] <= limits.sessions_burst + beyond // 2
    assert statuses[429] >= beyond // 2
