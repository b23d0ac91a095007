"""deploy/: the nginx template as run_multi.py renders it, checked against the app's own
settings (.streamlit/config.toml, cnnviz.limits, the launcher's flags) and by nginx itself."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from cnnviz import limits
from cnnviz.ui import serve
from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "deploy"))
import run_multi

PORTS = (18502, 18503, 18504)


def rendered(tmp_path: Path) -> str:
    return run_multi.render(tmp_path, "127.0.0.1:18501", PORTS, run_multi.max_body_mb())


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


def test_websocket_upgrade_and_long_timeouts(tmp_path: Path) -> None:
    text = rendered(tmp_path)
    assert "proxy_set_header Upgrade $http_upgrade;" in text
    assert "proxy_set_header Connection $connection_upgrade;" in text
    assert "proxy_http_version 1.1;" in text
    timeouts = re.findall(r"proxy_(?:read|send)_timeout (\S+);", text)
    assert timeouts == ["1d", "1d"]


def test_body_limit_covers_every_upload_the_app_accepts(tmp_path: Path) -> None:
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    body = int(re.search(r"client_max_body_size (\d+)m;", rendered(tmp_path)).group(1))
    assert body > config["server"]["maxUploadSize"]
    # no page accepts more than the server (the weights file's uploader included)
    assert body > limits.UPLOAD_MB.high


def test_backends_start_like_make_run() -> None:
    assert run_multi.streamlit_command(18502) == serve.command(18502)


def test_nginx_accepts_the_rendered_config(tmp_path: Path) -> None:
    nginx = run_multi.nginx_binary()
    if nginx is None:
        pytest.skip("nginx is missing: apt-get install -y nginx")
    conf = tmp_path / "nginx.conf"
    conf.write_text(rendered(tmp_path))
    checked = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-e", str(tmp_path / "error.log"), "-c", str(conf)],
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stderr
