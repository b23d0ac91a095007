"""deploy/: the nginx template as run_multi.py renders it, checked against the app's own
settings (.streamlit/config.toml, cnnviz.data.limits, the launcher's flags) and by nginx itself."""

from __future__ import annotations

import grp
import os
import pwd
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from streamlit.web.server.starlette import starlette_server_config

from cnnviz.data import limits
from cnnviz.server import serve
from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "deploy"))
import run_multi

PORTS = (18502, 18503, 18504)


CONFIG = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())


def rendered(tmp_path: Path, **options) -> str:
    """As run_multi.cluster writes it: as root, with its workers' user."""
    options.setdefault("user", run_multi.worker_user())
    return run_multi.render(tmp_path, "127.0.0.1:18501", PORTS, run_multi.max_body_mb(), **options)


def directive(text: str, name: str) -> list[str]:
    """The arguments of every `name ...;` line that is not a comment."""
    return re.findall(rf"^\s*{name} (.*);", text, re.M)


def test_every_backend_is_an_upstream_hashed_on_the_route_cookie(tmp_path: Path) -> None:
    text = rendered(tmp_path)
    upstream = re.search(r"upstream cnnviz \{(.*?)\}", text, re.S).group(1)
    assert re.findall(r"server 127\.0\.0\.1:(\d+)\b", upstream) == [str(p) for p in PORTS]
    assert "hash $cnnviz_route consistent;" in upstream
    # A first request (no cookie) hashes on the id the response sets as the cookie.
    assert '""      $request_id;' in text
    assert '"cnnviz_route=$request_id; Path=/' in text
    assert re.findall(r"@[A-Z_]+@", text) == ["@NAMES@", "@NAMES@"]  # the comments' only


def test_a_process_is_never_marked_down_nor_a_request_sent_to_another(tmp_path: Path) -> None:
    """A student's session lives in one process: nginx's failover (a process marked down after
    one failed request for 10 s, a request retried on the next) would move their websocket to
    a process without it."""
    text = rendered(tmp_path)
    upstream = re.search(r"upstream cnnviz \{(.*?)\}", text, re.S).group(1)
    servers = re.findall(r"^\s*server (\S+)(.*);", upstream, re.M)
    assert [address for address, _ in servers] == [f"127.0.0.1:{p}" for p in PORTS]
    assert all(options.split() == ["max_fails=0"] for _, options in servers), servers
    assert re.findall(r"^\s*proxy_next_upstream (\S+);", text, re.M) == ["off"]


def test_enough_connections_for_a_class(tmp_path: Path) -> None:
    """40 students, two tabs each: a websocket and up to 6 script connections per tab, each
    proxied (two connections for nginx): over 1,100, more than nginx's default 1024."""
    text = rendered(tmp_path)
    connections = int(re.search(r"worker_connections (\d+);", text).group(1))
    files = int(re.search(r"worker_rlimit_nofile (\d+);", text).group(1))
    assert connections >= 40 * 2 * (1 + 6) * 2
    assert files >= 2 * connections


def test_websocket_upgrade_and_timeouts_that_follow_streamlits_ping(tmp_path: Path) -> None:
    """The backend pings every websocket every server.websocketPingInterval seconds (Streamlit's
    default when unset): nginx waits for two pings and a moment, well under the 120 s a
    dropped browser has to reconnect to its session, and not the day it waited before."""
    text = rendered(tmp_path)
    assert "proxy_set_header Upgrade $http_upgrade;" in text
    assert "proxy_set_header Connection $connection_upgrade;" in text
    assert "proxy_http_version 1.1;" in text
    assert "websocketPingInterval" not in CONFIG["server"]
    ping = starlette_server_config.DEFAULT_WEBSOCKET_PING_INTERVAL
    assert run_multi.STREAMLIT_PING_S == run_multi.ping_interval_s() == ping
    read, send = (directive(text, f"proxy_{kind}_timeout") for kind in ("read", "send"))
    assert read == send == [f"{2 * ping + 15}s"]
    assert 2 * ping < 2 * ping + 15 < CONFIG["server"]["disconnectedSessionTTL"]
    assert directive(text, "server_tokens") == ["off"]
    seconds = {name: directive(text, name) for name in ("client_header_timeout",
               "client_body_timeout", "send_timeout", "keepalive_timeout")}  # fmt: skip
    assert all(len(v) == 1 and 0 < int(v[0].rstrip("s")) <= 60 for v in seconds.values()), seconds


def test_a_configured_ping_interval_moves_the_timeout(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[server]\nwebsocketPingInterval = 10\n")
    ping = run_multi.ping_interval_s(config)
    assert ping == 10
    text = rendered(tmp_path, limits=run_multi.class_limits(40, ping))
    assert directive(text, "proxy_read_timeout") == ["35s"]


def test_workers_never_run_as_root(tmp_path: Path) -> None:
    text = rendered(tmp_path)
    users = directive(text, "user")
    if os.geteuid() != 0:
        assert users == []  # nginx cannot switch users: its workers are the launcher's
        return
    assert len(users) == 1
    name, group = users[0].split()
    assert name in run_multi.WORKER_USERS and pwd.getpwnam(name).pw_uid != 0
    assert group == grp.getgrgid(pwd.getpwnam(name).pw_gid).gr_name  # its own group, not root's
    assert run_multi.render(tmp_path, "x:1", PORTS, 2, user="nobody").count("user nobody ") == 1
    with pytest.raises(SystemExit, match="root"):
        run_multi.worker_user("root")
    with pytest.raises(SystemExit, match="no such user"):
        run_multi.worker_user("no-such-user-cnnviz")


def test_per_address_limits_admit_a_class_behind_one_address(tmp_path: Path) -> None:
    """40 students share one public address: every tab's websocket and a browser's 6
    connections, every tab opening a session and reconnecting, the ~140 script files of
    Streamlit's frontend per new browser (bench/proxy_limits.py measures a class)."""
    text = rendered(tmp_path)
    zones = dict(re.findall(r"limit_req_zone \$binary_remote_addr zone=(\w+):10m rate=(\S+);",
                            text))  # fmt: skip
    assert zones == {"cnnviz_sessions": "120r/m", "cnnviz_requests": "200r/s"}
    assert directive(text, "limit_conn_zone") == ["$binary_remote_addr zone=cnnviz_connections:10m"]
    assert directive(text, "limit_conn") == ["cnnviz_connections 400"]
    assert 400 >= 40 * (3 + 6)
    bursts = dict(re.findall(r"limit_req zone=(\w+) burst=(\d+) nodelay;", text))
    assert bursts == {"cnnviz_sessions": "240", "cnnviz_requests": "7200"}
    assert int(bursts["cnnviz_requests"]) >= 40 * 140
    assert directive(text, "limit_req_status") == directive(text, "limit_conn_status") == ["429"]
    # one address at its limit fits in nginx's connections, twice (browser and process side)
    assert int(directive(text, "worker_connections")[0]) >= 2 * 400
    # the websocket handshake (a new session, at any page's path) has the sessions' limit
    stream = re.search(r"location ~ /_stcore/stream\$ \{(.*?)\}", text, re.S).group(1)
    assert "zone=cnnviz_sessions" in stream and "proxy_pass http://cnnviz;" in stream


def test_every_limit_follows_the_students_and_each_can_be_set(tmp_path: Path) -> None:
    args = run_multi._parse(["--students-per-address", "10", "--connections", "7"])
    limits = run_multi.limits_of(args)
    assert limits == run_multi.Limits(
        connections=7, sessions_per_min=30, sessions_burst=60, requests_per_s=50,
        requests_burst=1800, read_timeout_s=75,
    )  # fmt: skip
    text = rendered(tmp_path, limits=limits)
    assert directive(text, "limit_conn") == ["cnnviz_connections 7"]
    assert "rate=30r/m;" in text and "burst=1800 nodelay;" in text
    assert run_multi.limits_of(run_multi._parse([])) == run_multi.class_limits(40)


def test_body_limit_covers_every_upload_the_app_accepts(tmp_path: Path) -> None:
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    body = int(re.search(r"client_max_body_size (\d+)m;", rendered(tmp_path)).group(1))
    assert body > config["server"]["maxUploadSize"]
    # no page accepts more than the server (the weights file's uploader included)
    assert body > limits.UPLOAD_MB.high


def test_backends_start_like_make_run() -> None:
    assert run_multi.streamlit_command(18502) == serve.command(18502)


@pytest.mark.e2e  # a real process of its own
def test_nginx_accepts_the_rendered_config(tmp_path: Path) -> None:
    nginx = run_multi.nginx_binary()
    if nginx is None:
        pytest.skip("nginx is missing: apt-get install -y nginx")
    conf = tmp_path / "nginx.conf"
    conf.write_text(rendered(tmp_path))  # as root: with the `user` line of a real start
    checked = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-e", str(tmp_path / "error.log"), "-c", str(conf)],
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stderr


def test_every_process_of_the_class_asks_for_one_class_code(capsys) -> None:
    """The processes listen on 127.0.0.1 (where alone they would ask for no code): the
    launcher gives them one code from the address students reach nginx at."""
    generated = run_multi.class_env("0.0.0.0", 8501, {})
    (code,) = generated.values()
    assert list(generated) == ["CNNVIZ_CLASS_CODE"] and len(code.replace("-", "")) == 8
    said = capsys.readouterr().out
    assert f"class code {code} (generated" in said and ":8501 and type it once" in said
    assert run_multi.class_env("0.0.0.0", 8501, {"CNNVIZ_CLASS_CODE": "ROOM-2718"}) == {
        "CNNVIZ_CLASS_CODE": "ROOM-2718"
    }
    assert run_multi.class_env("127.0.0.1", 8501, {}) == {}  # nginx on loopback: nobody else comes
    assert "no class code" in capsys.readouterr().out
