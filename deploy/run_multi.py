"""Serve cnnviz from several Streamlit processes behind nginx (one process per core).

    python deploy/run_multi.py [--processes N] [--address 0.0.0.0] [--port 8501]

Starts a local Ray head (`--jobs ray`, the default: every process's jobs wait in one queue per
device, cnnviz/jobs/ray_backend.py; with RAY_ADDRESS set, its processes join that cluster
instead, as with `--jobs ray://HOST:PORT`; `--jobs threads` queues per process), then N
`python -m cnnviz.server.serve` processes on the loopback ports after PORT (PORT+1 ...
PORT+N), waits until each answers its health check, then nginx on ADDRESS:PORT from the
template deploy/nginx.conf (sticky sessions on a cookie, websocket upgrade, upload limit
from .streamlit/config.toml), as the current user, with its pid, logs and temporary files in
a folder of its own (--folder, else a temporary one). Ctrl-C or SIGTERM stops them all.

Standard library only: the launcher stays small (its own memory counts in the benchmarks).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import grp
import os
import pwd
import secrets
import shutil
import signal
import socket
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
# Streamlit's websocket ping interval when server.websocketPingInterval is unset
# (streamlit/web/server/starlette/starlette_server_config.py DEFAULT_WEBSOCKET_PING_INTERVAL;
# a test checks): the backend writes a ping on every websocket this often.
STREAMLIT_PING_S = 30
# Users that nginx's workers run as when the launcher is root, the first that exists.
WORKER_USERS = ("www-data", "nobody")

# What one student's browser asks of the server (deploy/nginx.conf explains each):
TABS = 3  # tabs open on the app at once, each its own websocket (session)
BROWSER_CONNECTIONS = 6  # a browser's parallel HTTP/1.1 connections to one host
# A new browser's requests in its first minutes: Streamlit's ~140 JavaScript, CSS and font
# files (cnnviz/server/static_files.py; 106 for the home page alone), each page's HTML, health
# check, host-config, favicon and images (the augmentation grid: up to 24 per draw).
BROWSER_REQUESTS = 180
STUDENT_REQUESTS_PER_S = 5  # sustained: a draw of 24 images every 5 s


def _access_module():
    """cnnviz/server/access.py (standard library only) without importing the cnnviz package,
    which imports torch: the launcher stays small."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "cnnviz_access", REPO / "cnnviz" / "server" / "access.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up there
    spec.loader.exec_module(module)
    return module


def class_env(
    address: str, port: int = 8501, environ: dict[str, str] | os._Environ = os.environ
) -> dict[str, str]:
    """The class code every process of the class asks for, as their environment: the
    teacher's CNNVIZ_CLASS_CODE, else one generated for this start unless nginx listens on
    loopback only (the processes themselves listen on 127.0.0.1, where each alone would ask
    for none: behind nginx every student arrives from there). Prints the line that says it."""
    access = _access_module()
    code = access.class_code(address, environ)
    host = address if address not in ("0.0.0.0", "::", "") else os.uname().nodename
    print(code.banner(f"http://{host}:{port}"), flush=True)
    return {access.CLASS_CODE_ENV: code.code} if code.required else {}


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


def ping_interval_s(config: Path = CONFIG) -> int:
    """server.websocketPingInterval of the app's config, else Streamlit's default."""
    settings = tomllib.loads(config.read_text()) if config.exists() else {}
    return int(settings.get("server", {}).get("websocketPingInterval", STREAMLIT_PING_S))


@dataclass(frozen=True)
class Limits:
    """Per client address (a class behind one NAT arrives from one): nginx's limits."""

    connections: int  # open at once (limit_conn)
    sessions_per_min: int  # websocket handshakes, each a new Streamlit session (limit_req)
    sessions_burst: int
    requests_per_s: int  # every other request: files, pages, health checks, uploads
    requests_burst: int
    read_timeout_s: int  # proxy_read_timeout / proxy_send_timeout


def class_limits(students: int = 40, ping_s: int = STREAMLIT_PING_S) -> Limits:
    """Limits that admit `students` behind one address (deploy/nginx.conf: the arithmetic)."""
    return Limits(
        # every tab's websocket, one more for a websocket reconnecting while the old one is
        # still open, and the browser's parallel connections while a page loads
        connections=students * (TABS + 1 + BROWSER_CONNECTIONS),
        # every tab reconnecting once a minute
        sessions_per_min=students * TABS,
        # every tab opened at once, then all of them reconnecting (a backend restarted)
        sessions_burst=students * TABS * 2,
        requests_per_s=students * STUDENT_REQUESTS_PER_S,
        # the whole class opening the app in a new browser at the same moment
        requests_burst=students * BROWSER_REQUESTS,
        # two pings missed, plus a moment: only a backend stuck that long is given up on
        read_timeout_s=2 * ping_s + 15,
    )


def worker_user(wanted: str | None = None) -> str | None:
    """The user nginx's workers run as: None (the current user's) unless root; as root
    `wanted`, else the first of WORKER_USERS that exists. Never root."""
    if os.geteuid() != 0:
        return None
    for name in [wanted] if wanted else WORKER_USERS:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        if entry.pw_uid == 0:
            raise SystemExit(f"nginx's workers must not run as root ({name} is uid 0)")
        return name
    raise SystemExit(f"no such user: {wanted or ' or '.join(WORKER_USERS)} (--user)")


def render(
    prefix: Path,
    listen: str,
    ports: Sequence[int],
    body_mb: int,
    *,
    limits: Limits | None = None,
    user: str | None = None,
    temp: Path | None = None,
) -> str:
    """The template with its @NAMES@ filled in; `temp` holds nginx's temporary files
    (default: under `prefix`), writable by `user` (None: the current user)."""
    limits = limits or class_limits(ping_s=ping_interval_s())
    # max_fails=0: never marked down, so a student's requests never move to a process that
    # does not hold their session (deploy/nginx.conf says why).
    servers = "\n".join(f"        server 127.0.0.1:{p} max_fails=0;" for p in ports)
    group = _primary_group(user) if user else ""
    text = TEMPLATE.read_text()
    for name, value in (
        ("@USER@", f"user {user} {group};" if user else ""),
        ("@PREFIX@", str(prefix)),
        ("@TEMP@", str(temp or prefix)),
        ("@LISTEN@", listen),
        ("@SERVERS@", servers),
        ("@MAX_BODY_MB@", str(body_mb)),
        ("@CONNECTIONS@", str(limits.connections)),
        ("@SESSIONS_PER_MIN@", str(limits.sessions_per_min)),
        ("@SESSIONS_BURST@", str(limits.sessions_burst)),
        ("@REQUESTS_PER_S@", str(limits.requests_per_s)),
        ("@REQUESTS_BURST@", str(limits.requests_burst)),
        ("@READ_TIMEOUT_S@", str(limits.read_timeout_s)),
    ):
        text = text.replace(name, value)
    return text


def _primary_group(user: str) -> str:
    return grp.getgrgid(pwd.getpwnam(user).pw_gid).gr_name


def temp_folder(user: str | None, folder: Path, stack: contextlib.ExitStack) -> Path:
    """Where nginx's workers write request and response bodies: under `folder` for the
    current user; for another user a folder of theirs under the system's temporary folder
    (every folder above it must be open to them, which `folder`'s may not be: pytest's
    and TemporaryDirectory's are 0700), removed at the end."""
    if user is None:
        return folder
    # /tmp itself when it is open to everyone: $TMPDIR may be a private folder (a test's).
    base = "/tmp" if os.path.isdir("/tmp") and os.stat("/tmp").st_mode & 0o7 == 0o7 else None
    made = tempfile.TemporaryDirectory(prefix="cnnviz-nginx-", dir=base)
    temp = Path(stack.enter_context(made))
    entry = pwd.getpwnam(user)
    os.chown(temp, entry.pw_uid, entry.pw_gid)
    return temp


def streamlit_command(port: int, extra: Sequence[str] = ()) -> list[str]:
    """One backend: the app's launcher (as `make run`) on a loopback port; the same flags as
    cnnviz.server.serve.command (a test checks)."""
    return [
        sys.executable,
        "-m",
        "cnnviz.server.serve",
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


# Ray's token authentication on (the head's port must not run code for anyone on the network;
# the token is ~/.ray/auth_token, shared by the user's processes), usage statistics off, and
# the head's processes ended at once on SIGTERM (Ray drains a node for 30 s by default, and
# the launcher would kill `ray start` first, leaving its processes behind).
RAY_ENV = {
    "RAY_AUTH_MODE": "token",
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S": "0",
}


def ray_head(stack: contextlib.ExitStack, cpus: int) -> str:
    """A local Ray head for the class's job queue, stopped when `stack` closes; its address.
    `ray start --block` stays in the foreground, and ends the head's processes when it ends."""
    ray = Path(sys.executable).with_name("ray")
    if not ray.exists():
        raise SystemExit(
            "cnnviz: --jobs ray needs Ray: .venv/bin/pip install -r requirements-ray.txt "
            "(make run-multi does), or --jobs threads"
        )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    head = subprocess.Popen(
        [str(ray), "start", "--head", "--block", f"--port={port}", f"--num-cpus={cpus}",
         "--node-ip-address=127.0.0.1", "--include-dashboard=false", "--disable-usage-stats"],
        stdout=subprocess.DEVNULL, env={**os.environ, **RAY_ENV},
    )  # fmt: skip
    stack.callback(_stop, [head])
    address = f"127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if head.poll() is not None:
            raise SystemExit(f"cnnviz: the Ray head exited ({head.returncode})")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return address
        time.sleep(0.5)
    raise SystemExit("cnnviz: the Ray head did not start")


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
    ray_address: str | None = None  # the Ray head the backends' jobs queue on, if any

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
    limits: Limits | None = None,
    user: str | None = None,
    jobs: str = "threads",
) -> Iterator[Cluster]:
    """N backends and nginx in front, until the block ends; as root nginx's workers run as
    `user` (default: www-data, else nobody). `jobs`: "threads" (a queue per process), "ray"
    (a local Ray head started here: one queue for all) or "ray://HOST:PORT"."""
    nginx = nginx_binary()
    if nginx is None:
        raise SystemExit("nginx is missing: install it with `apt-get install -y nginx`")
    ports = list(backend_ports or range(port + 1, port + 1 + processes))
    if len(ports) != processes:
        raise SystemExit(f"{processes} processes need {processes} backend ports, got {ports}")
    folder.mkdir(parents=True, exist_ok=True)
    # One cookie secret for all: any process can read a cookie another one signed.
    env = {**os.environ, "STREAMLIT_SERVER_COOKIE_SECRET": secrets.token_hex(32)}
    env.update(class_env(address, port))  # one class code for all, whatever each process listens on
    running = Cluster(url=f"http://{'127.0.0.1' if address == '0.0.0.0' else address}:{port}",
                      folder=folder)  # fmt: skip
    workers = worker_user(user)
    stack = contextlib.ExitStack()
    try:
        env["CNNVIZ_JOBS"] = jobs
        if jobs == "ray" and not env.get("RAY_ADDRESS"):  # else: join the cluster it names
            env.update(RAY_ENV, RAY_ADDRESS=ray_head(stack, os.cpu_count() or 1))
        running.ray_address = env.get("RAY_ADDRESS") if jobs == "ray" else None
        for p in ports:
            running.backends.append(
                subprocess.Popen(streamlit_command(p, extra), cwd=REPO, env=env)
            )
        _wait_healthy([f"http://127.0.0.1:{p}" for p in ports], running.backends)
        conf = folder / "nginx.conf"
        temp = temp_folder(workers, folder, stack)
        text = render(folder, f"{address}:{port}", ports, max_body_mb(), limits=limits,
                      user=workers, temp=temp)  # fmt: skip
        conf.write_text(text)
        args = [nginx, "-p", str(folder), "-e", str(folder / "error.log"), "-c", str(conf)]
        subprocess.run([*args, "-t", "-q"], check=True)
        running.nginx = subprocess.Popen([*args, "-g", "daemon off;"])
        _wait_healthy([running.url], running.processes)
        yield running
    finally:
        _stop(running.processes)
        stack.close()


def _parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--address", default="0.0.0.0", help="where nginx listens")
    parser.add_argument("--port", type=int, default=8501, help="nginx's port")
    parser.add_argument("--backend-ports", help="comma-separated; default PORT+1 ... PORT+N")
    parser.add_argument("--folder", type=Path, help="nginx's pid, logs, temporary files")
    parser.add_argument(
        "--jobs",
        default="ray",
        help="ray (default: a local Ray head, one job queue per device for every process), "
        "ray://HOST:PORT (a Ray cluster's), or threads (a queue per process)",
    )
    parser.add_argument(
        "--user", help="as root: the user nginx's workers run as (default www-data, else nobody)"
    )
    limits = parser.add_argument_group(
        "per client address (deploy/nginx.conf says how the defaults follow from a class)"
    )
    limits.add_argument("--students-per-address", type=int, default=40,
                        help="students behind one NAT address (default 40)")  # fmt: skip
    for name, what in (
        ("connections", "connections open at once"),
        ("sessions_per_min", "websocket handshakes (new sessions) per minute"),
        ("sessions_burst", "websocket handshakes at once beyond that rate"),
        ("requests_per_s", "other requests per second"),
        ("requests_burst", "other requests at once beyond that rate"),
        ("read_timeout_s", "seconds nginx waits for a backend's next byte"),
    ):
        limits.add_argument(f"--{name.replace('_', '-')}", type=int, help=f"{what}")
    parser.add_argument("streamlit_args", nargs="*", help="after --: passed to every backend")
    return parser.parse_args(argv)


def limits_of(args: argparse.Namespace) -> Limits:
    """class_limits(--students-per-address), each size given on its own taking precedence."""
    chosen = class_limits(args.students_per_address, ping_interval_s())
    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(Limits)}
    return dataclasses.replace(chosen, **{k: v for k, v in given.items() if v is not None})


def main(argv: Sequence[str]) -> None:
    args = _parse(argv)
    ports = [int(p) for p in args.backend_ports.split(",")] if args.backend_ports else None
    # SIGTERM ends the block like Ctrl-C does, so the backends and nginx are stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with contextlib.ExitStack() as stack:
        folder = args.folder or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        running = stack.enter_context(
            cluster(args.processes, args.address, args.port, folder.resolve(), ports,
                    args.streamlit_args, limits_of(args), args.user, args.jobs)
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
