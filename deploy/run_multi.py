"""Serve cnnviz from several Streamlit processes behind nginx (one process per core).

    python deploy/run_multi.py [--processes N] [--address 0.0.0.0] [--port 8501]

Starts N `python -m cnnviz.ui.serve` processes on the loopback ports after PORT (PORT+1 ...
PORT+N), waits until each answers its health check, then nginx on ADDRESS:PORT from the
template deploy/nginx.conf (sticky sessions on a cookie, websocket upgrade, upload limit
from .streamlit/config.toml), as the current user, with its pid, logs and temporary files in
a folder of its own (--folder, else a temporary one). Ctrl-C or SIGTERM stops them all.

Standard library only: the launcher stays small (its own memory counts in the benchmarks).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TEMPLATE = Path(__file__).with_name("nginx.conf")
CONFIG = REPO / ".streamlit" / "config.toml"
START_TIMEOUT_S = 120.0  # N processes importing torch at once on 2 cores


def nginx_binary() -> str | None:
    """Debian's nginx (`apt-get install -y nginx`), or None."""
    found = shutil.which("nginx")
    if found:
        return found
    return "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None


def max_upload_mb(config: Path = CONFIG) -> int:
    """server.maxUploadSize of the app's config (Streamlit's default 200 when unset)."""
    settings = tomllib.loads(config.read_text()) if config.exists() else {}
    return int(settings.get("server", {}).get("maxUploadSize", 200))


def max_body_mb(config: Path = CONFIG) -> int:
    """nginx's client_max_body_size: the largest upload anywhere in the app (Streamlit refuses
    a file over server.maxUploadSize whatever a widget says), plus 1 MB for the multipart
    envelope, so that Streamlit, not nginx, refuses a file too large."""
    return max_upload_mb(config) + 1


def render(prefix: Path, listen: str, ports: Sequence[int], body_mb: int) -> str:
    """The template with its @NAMES@ filled in."""
    # max_fails=0: never marked down, so a student's requests never move to a process that
    # does not hold their session (deploy/nginx.conf says why).
    servers = "\n".join(f"        server 127.0.0.1:{p} max_fails=0;" for p in ports)
    # As root nginx would hand its workers to `nobody`, who cannot write into a root-owned
    # temporary folder: keep the workers as the current user.
    user = "user root;" if os.geteuid() == 0 else ""
    text = TEMPLATE.read_text()
    for name, value in (
        ("@USER@", user),
        ("@PREFIX@", str(prefix)),
        ("@LISTEN@", listen),
        ("@SERVERS@", servers),
        ("@MAX_BODY_MB@", str(body_mb)),
    ):
        text = text.replace(name, value)
    return text


def streamlit_command(port: int, extra: Sequence[str] = ()) -> list[str]:
    """One backend: the app's launcher (as `make run`) on a loopback port; the same flags as
    cnnviz.ui.serve.command (a test checks)."""
    return [
        sys.executable,
        "-m",
        "cnnviz.ui.serve",
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
        *extra,
    ]


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return response.read().strip() == b"ok"
    except OSError:
        return False


@dataclass
class Cluster:
    """The backends and nginx, all children of this process."""

    url: str
    folder: Path
    backends: list[subprocess.Popen] = field(default_factory=list)
    nginx: subprocess.Popen | None = None

    @property
    def processes(self) -> list[subprocess.Popen]:
        return [*self.backends, *([self.nginx] if self.nginx else [])]

    def alive(self) -> bool:
        return all(p.poll() is None for p in self.processes)


def _wait_healthy(urls: Sequence[str], processes: Sequence[subprocess.Popen]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    waiting = list(urls)
    while waiting:
        if any(p.poll() is not None for p in processes):
            raise RuntimeError("a server process exited while starting (see its log)")
        if time.monotonic() > deadline:
            raise RuntimeError(f"not healthy after {START_TIMEOUT_S:.0f} s: {waiting}")
        waiting = [u for u in waiting if not healthy(u)]
        time.sleep(0.2)


def _stop(processes: Sequence[subprocess.Popen]) -> None:
    for p in processes:
        if p.poll() is None:
            p.terminate()
    for p in processes:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=10)


@contextlib.contextmanager
def cluster(
    processes: int,
    address: str,
    port: int,
    folder: Path,
    backend_ports: Sequence[int] | None = None,
    extra: Sequence[str] = (),
) -> Iterator[Cluster]:
    """N backends and nginx in front, until the block ends."""
    nginx = nginx_binary()
    if nginx is None:
        raise SystemExit("nginx is missing: install it with `apt-get install -y nginx`")
    ports = list(backend_ports or range(port + 1, port + 1 + processes))
    if len(ports) != processes:
        raise SystemExit(f"{processes} processes need {processes} backend ports, got {ports}")
    folder.mkdir(parents=True, exist_ok=True)
    # One cookie secret for all: any process can read a cookie another one signed.
    env = {**os.environ, "STREAMLIT_SERVER_COOKIE_SECRET": secrets.token_hex(32)}
    running = Cluster(url=f"http://{'127.0.0.1' if address == '0.0.0.0' else address}:{port}",
                      folder=folder)  # fmt: skip
    try:
        for p in ports:
            running.backends.append(
                subprocess.Popen(streamlit_command(p, extra), cwd=REPO, env=env)
            )
        _wait_healthy([f"http://127.0.0.1:{p}" for p in ports], running.backends)
        conf = folder / "nginx.conf"
        conf.write_text(render(folder, f"{address}:{port}", ports, max_body_mb()))
        args = [nginx, "-p", str(folder), "-e", str(folder / "error.log"), "-c", str(conf)]
        subprocess.run([*args, "-t", "-q"], check=True)
        running.nginx = subprocess.Popen([*args, "-g", "daemon off;"])
        _wait_healthy([running.url], running.processes)
        yield running
    finally:
        _stop(running.processes)


def _parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--address", default="0.0.0.0", help="where nginx listens")
    parser.add_argument("--port", type=int, default=8501, help="nginx's port")
    parser.add_argument("--backend-ports", help="comma-separated; default PORT+1 ... PORT+N")
    parser.add_argument("--folder", type=Path, help="nginx's pid, logs, temporary files")
    parser.add_argument("streamlit_args", nargs="*", help="after --: passed to every backend")
    return parser.parse_args(argv)


def main(argv: Sequence[str]) -> None:
    args = _parse(argv)
    ports = [int(p) for p in args.backend_ports.split(",")] if args.backend_ports else None
    # SIGTERM ends the block like Ctrl-C does, so the backends and nginx are stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with contextlib.ExitStack() as stack:
        folder = args.folder or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        running = stack.enter_context(
            cluster(args.processes, args.address, args.port, folder.resolve(), ports,
                    args.streamlit_args)
        )  # fmt: skip
        print(
            f"cnnviz: {args.processes} processes behind nginx at {running.url} (logs in {folder})",
            flush=True,
        )
        try:
            while running.alive():
                time.sleep(0.5)
        except KeyboardInterrupt:
            return
        raise SystemExit("a server process exited; stopping the others")


if __name__ == "__main__":
    main(sys.argv[1:])
