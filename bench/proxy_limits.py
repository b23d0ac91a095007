"""Benchmark: nginx's per-address limits (deploy/nginx.conf) against a class behind one NAT
and against one client hammering the server.

Starts deploy/run_multi.py's cluster (--processes backends behind nginx, its default limits
for 40 students per address), records what a fresh Chromium asks for when it opens the home
page (the page, Streamlit's ~100 script, CSS and font files, health check, host-config,
favicon; not its images, which belong to its session) and its websocket's URL, then from
loopback addresses (Linux answers on all of 127.0.0.0/8: nginx sees each as a client):
- a class: --students new browsers, each starting at a random moment within --spread
  seconds, fetch that page's requests over 6 connections (a browser's HTTP/1.1 limit) with
  their own route cookie, then open the websocket and keep it until everyone is done;
  answers counted by status (target: no 429 or 503);
- from another address, one client hammering: --flood health checks over 8 connections as
  fast as they go, then --handshakes websocket handshakes (each a new Streamlit session);
  answers counted by status (target: 429 for most of what is beyond the burst).
Prints the figures; asserts nothing.

    python bench/proxy_limits.py [--students 40] [--spread 10] [--processes 2]
                                 [--flood 12000] [--handshakes 400]
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import http.client
import os
import random
import socket
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "deploy"))
sys.path.insert(0, str(REPO))

import run_multi  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
CONNECTIONS = 6  # a browser's parallel HTTP/1.1 connections to one host
TIMEOUT_S = 60.0


@dataclass
class PageLoad:
    """What a fresh browser asked for when it opened a page: HTTP paths in order (the page
    first) and its websocket's path."""

    paths: list[str]
    websocket: str


def record_page_load(url: str, browser=None, page: str = "") -> PageLoad:
    """A fresh context of headless Chromium (Debian's; `browser`, a Playwright Browser, else
    one of its own) opens `url/page`: the paths it asked for, less its session's images
    (/media/: another session's are not found)."""
    if browser is None:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            own = playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"],
                headless=True,
            )  # fmt: skip
            try:
                return record_page_load(url, own, page)
            finally:
                own.close()
    paths: list[str] = []
    sockets: list[str] = []
    context = browser.new_context()
    try:
        tab = context.new_page()
        tab.on("request", lambda r: paths.append(_path_of(r.url)))
        tab.on("websocket", lambda w: sockets.append(_path_of(w.url)))
        tab.goto(f"{url}/{page}", timeout=TIMEOUT_S * 1000)
        tab.wait_for_selector('[data-testid="stMain"]', timeout=TIMEOUT_S * 1000)
        tab.wait_for_load_state("networkidle", timeout=TIMEOUT_S * 1000)
    finally:
        context.close()
    paths = [p for p in paths if not p.startswith("/media/")]
    return PageLoad(paths=paths, websocket=sockets[0] if sockets else "/_stcore/stream")


def _path_of(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


@dataclass
class Tally:
    """Answers by (kind, status); a failed connection counts as status 0."""

    counts: Counter = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, status: int) -> None:
        with self.lock:
            self.counts[kind, status] += 1

    def statuses(self, kind: str | None = None) -> Counter:
        return Counter({s: n for (k, s), n in self.counts.items() if kind is None or k == kind})


def _connection(url: str, source: str) -> http.client.HTTPConnection:
    parts = urllib.parse.urlsplit(url)
    return http.client.HTTPConnection(
        parts.hostname, parts.port, timeout=TIMEOUT_S, source_address=(source, 0)
    )


def _get(conn: http.client.HTTPConnection, path: str, headers: dict[str, str]) -> tuple[int, str]:
    """GET on a kept-alive connection: (status, route cookie set or "")."""
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        response.read()
    except OSError:
        conn.close()
        return 0, ""
    cookies = response.headers.get_all("Set-Cookie") or []
    route = next((c.split(";")[0].split("=", 1)[1] for c in cookies
                  if c.startswith("cnnviz_route=")), "")  # fmt: skip
    if response.getheader("Connection", "").lower() == "close":
        conn.close()
    return response.status, route


def handshake(url: str, path: str, source: str, cookie: str = "") -> tuple[int, socket.socket]:
    """A websocket opening handshake as a browser sends it; (status, the open socket)."""
    parts = urllib.parse.urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), TIMEOUT_S, (source, 0))
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: {parts.netloc}",
        f"Origin: {url}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
        "Sec-WebSocket-Protocol: streamlit",
        *([f"Cookie: cnnviz_route={cookie}"] if cookie else []),
    ]
    try:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = b""
        while b"\r\n" not in head:
            chunk = sock.recv(4096)
            if not chunk:
                break
            head += chunk
        status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/") else 0
    except OSError:
        status = 0
    return status, sock


def student(
    url: str, load: PageLoad, source: str, start_s: float, tally: Tally, done: threading.Event
) -> None:
    """A new browser: the page, then its files over 6 connections, then its websocket, kept
    open until `done`."""
    time.sleep(start_s)
    first = _connection(url, source)
    status, route = _get(first, load.paths[0], {})
    tally.add("request", status)
    headers = {"Cookie": f"cnnviz_route={route}"} if route else {}
    rest = load.paths[1:]

    def fetch(share: Sequence[str], conn: http.client.HTTPConnection) -> None:
        for path in share:
            tally.add("request", _get(conn, path, headers)[0])
        conn.close()

    workers = [threading.Thread(target=fetch, args=(rest[0::CONNECTIONS], first))]
    for k in range(1, CONNECTIONS):
        conn = _connection(url, source)
        workers.append(threading.Thread(target=fetch, args=(rest[k::CONNECTIONS], conn)))
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    status, sock = handshake(url, load.websocket, source, route)
    tally.add("websocket", status)
    with sock:
        done.wait(TIMEOUT_S * 4)


def class_load(
    url: str, load: PageLoad, students: int, spread_s: float, source: str, seed: int = 0
) -> tuple[Tally, float]:
    """`students` new browsers from one address within `spread_s` seconds; (answers, wall s)."""
    tally, done = Tally(), threading.Event()
    starts = sorted(random.Random(seed).uniform(0, spread_s) for _ in range(students))
    threads = [
        threading.Thread(target=student, args=(url, load, source, s, tally, done)) for s in starts
    ]
    began = time.monotonic()
    for t in threads:
        t.start()
    while sum(tally.statuses("websocket").values()) < students and any(
        t.is_alive() for t in threads
    ):
        time.sleep(0.05)
    wall = time.monotonic() - began
    done.set()
    for t in threads:
        t.join()
    return tally, wall


def flood(url: str, path: str, count: int, connections: int, source: str) -> tuple[Counter, float]:
    """`count` GETs of `path` over `connections` kept-alive connections, as fast as they go."""
    tally = Tally()
    shares = [count // connections + (k < count % connections) for k in range(connections)]

    def hammer(n: int) -> None:
        conn = _connection(url, source)
        for _ in range(n):
            tally.add("flood", _get(conn, path, {})[0])
        conn.close()

    threads = [threading.Thread(target=hammer, args=(n,)) for n in shares]
    began = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return tally.statuses(), time.monotonic() - began


def handshake_flood(url: str, path: str, count: int, source: str) -> tuple[Counter, float]:
    """`count` websocket handshakes one after the other, each closed once answered."""
    statuses: Counter = Counter()
    began = time.monotonic()
    for _ in range(count):
        status, sock = handshake(url, path, source)
        sock.close()
        statuses[status] += 1
    return statuses, time.monotonic() - began


@contextlib.contextmanager
def proxied(processes: int) -> Iterator[run_multi.Cluster]:
    from tests.e2e.conftest import _free_port

    with tempfile.TemporaryDirectory() as folder:
        ports = [_free_port() for _ in range(processes)]
        with run_multi.cluster(processes, "127.0.0.1", _free_port(), Path(folder), ports) as c:
            yield c


def _line(label: str, statuses: Counter, wall: float) -> str:
    total = sum(statuses.values())
    shown = ", ".join(f"{s or 'failed'}: {n}" for s, n in sorted(statuses.items()))
    return f"{label:<46} {total:>6} answers in {wall:5.1f} s ({shown})"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, default=40)
    parser.add_argument("--spread", type=float, default=10.0, help="seconds they arrive within")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--flood", type=int, default=12_000, help="health checks hammered")
    parser.add_argument("--handshakes", type=int, default=400, help="websocket handshakes")
    args = parser.parse_args(argv)
    if run_multi.nginx_binary() is None or not CHROMIUM.exists():
        raise SystemExit("needs nginx and Debian's chromium (apt-get install -y nginx chromium)")
    limits = run_multi.class_limits(ping_s=run_multi.ping_interval_s())
    print(f"nginx limits per address: {limits}")
    with proxied(args.processes) as running:
        load = record_page_load(running.url)  # from 127.0.0.1: its own address
        print(f"a new browser opening the home page: {len(load.paths)} requests "
              f"({sum(p.startswith('/static/') for p in load.paths)} under /static/), "
              f"then its websocket {load.websocket}")  # fmt: skip
        tally, wall = class_load(running.url, load, args.students, args.spread, "127.0.0.2")
        label = f"class: {args.students} students from 127.0.0.2"
        print(_line(f"{label}, requests", tally.statuses("request"), wall))
        print(_line(f"{label}, websockets", tally.statuses("websocket"), wall))
        limited = sum(n for (_, s), n in tally.counts.items() if s in (429, 503))
        print(f"  limited (429 or 503): {limited} (target 0)")
        statuses, wall = flood(running.url, "/_stcore/health", args.flood, 8, "127.0.0.3")
        print(_line("one client (127.0.0.3): health checks", statuses, wall))
        print(f"  {statuses[429] / max(wall, 1e-9):.0f} 429/s, "
              f"{statuses[200] / max(wall, 1e-9):.0f} admitted/s")  # fmt: skip
        statuses, wall = handshake_flood(running.url, load.websocket, args.handshakes, "127.0.0.4")
        print(_line("one client (127.0.0.4): websocket handshakes", statuses, wall))


if __name__ == "__main__":
    main()
