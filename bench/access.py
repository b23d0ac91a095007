"""Benchmark: who gets in. A server started as `make run` starts it, with a class code, is
sent hostile requests from loopback (as every student arrives behind nginx) and each answer is
counted: what got through, and what a student who knows the code gets.

- every kind of request without the class cookie: page addresses (with presets, deep paths,
  odd methods), Streamlit's scripts, host-config, uploads (PUT/POST), media, components, the
  websocket handshake;
- forged class cookies: another code's proof, the code itself, empty, very long, garbage;
- wrong codes at the login (near misses, empty, 4 KB, SQL/HTML), each answered after 1 s;
- redirects off the site after a right code (absolute URLs, //host, backslashes, schemes);
- then the right code: the page, and a websocket that Streamlit accepts.

Prints the counts; asserts nothing. `python bench/access.py [--port 18911]`
"""

from __future__ import annotations

import argparse
import http.client
import os
import subprocess
import sys
import time
import urllib.parse
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from cnnviz.server import access  # noqa: E402
from cnnviz.server.serve import command  # noqa: E402

CODE = "BENCH-4242"


def request(port: int, method: str, path: str, headers=None, body: bytes | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, response.getheader("location"), data


def websocket(port: int, cookie: str | None) -> str:
    """'accepted' when Streamlit's websocket handshake answers 101, else the status."""
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    headers = {"Cookie": cookie} if cookie else {}
    try:
        with connect(
            f"ws://127.0.0.1:{port}/_stcore/stream",
            additional_headers=headers,
            subprotocols=["streamlit"],
            open_timeout=30,
        ):
            return "accepted"
    except InvalidStatus as err:
        return str(err.response.status_code)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=18911)
    args = parser.parse_args()
    port = args.port
    env = {**os.environ, access.CLASS_CODE_ENV: CODE}
    server = subprocess.Popen(
        command(port), cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                if request(port, "GET", "/_stcore/health")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline and server.poll() is None, "server did not start"
            time.sleep(0.5)
        tally: Counter[str] = Counter()
        let_in = []

        def no_cookie(method: str, path: str, body: bytes | None = None) -> None:
            status, _, data = request(port, method, path, body=body)
            tally[f"no cookie {status}"] += 1
            if status < 400 and b"Class code" not in data:
                let_in.append((method, path, status))

        pages = ["/", "/vgg?depth=16", "/transfer_learning?transfer_learning_job=x&jobs=y",
                 "/explain", "/a/b/c", "/%2e%2e/etc/passwd", "/?" + "x" * 2000]  # fmt: skip
        files = ["/static/js/index.js", "/_stcore/host-config", "/media/abc.png",
                 "/component/x/index.html", "/_stcore/allowed-message-origins",
                 "/favicon.png", "/app/static/x"]  # fmt: skip
        for path in pages:
            for method in ("GET", "HEAD", "POST", "DELETE"):
                no_cookie(method, path)
        for path in files:
            no_cookie("GET", path)
        for method in ("PUT", "POST"):
            no_cookie(method, "/_stcore/upload_file/session/file", body=b"x" * 1000)
        forged = [access.proof("ANOTHER"), CODE, "", "x" * 5000, access.proof(CODE)[:-1] + "0",
                  "%00", access.proof(CODE).upper()]  # fmt: skip
        for value in forged:
            status = request(port, "GET", "/", {"Cookie": f"cnnviz_class={value}"})[0]
            tally[f"forged cookie {status}"] += 1
            if status < 400:
                let_in.append(("forged cookie", value[:20], status))
            ws = websocket(port, f"cnnviz_class={value}")
            tally[f"forged cookie websocket {ws}"] += 1
            if ws == "accepted":
                let_in.append(("forged cookie websocket", value[:20], ws))
        ws = websocket(port, None)
        tally[f"no cookie websocket {ws}"] += 1
        if ws == "accepted":
            let_in.append(("websocket", "", ws))
        wrong = ["BENCH-4243", "BENCH4241", "", "x" * 3000, "' OR 1=1 --", "<script>", "BENCH"]
        started = time.monotonic()
        for typed in wrong:
            body = urllib.parse.urlencode({"code": typed}).encode()
            status, location, _ = request(port, "POST", "/cnnviz-login", body=body)
            tally[f"wrong code {status}"] += 1
            if status < 400:
                let_in.append(("wrong code", typed[:20], status))
        per_wrong = (time.monotonic() - started) / len(wrong)
        offsite = ["https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:1",
                   "http:/evil", "\r\nSet-Cookie: x=1"]  # fmt: skip
        for target in offsite:
            body = urllib.parse.urlencode({"code": CODE, "next": target}).encode()
            status, location, _ = request(port, "POST", "/cnnviz-login", body=body)
            tally[f"off-site redirect -> {location!r}"] += 1
        body = urllib.parse.urlencode({"code": "bench 4242", "next": "/vgg"}).encode()
        status, location, _ = request(port, "POST", "/cnnviz-login", body=body)
        cookie = f"cnnviz_class={access.proof(CODE)}"
        page = request(port, "GET", "/vgg", {"Cookie": cookie})[0]
        ws = websocket(port, cookie)
        hostile = sum(n for k, n in tally.items() if not k.startswith("off-site"))
        print(f"hostile requests without the code: {hostile}, let in: {len(let_in)} {let_in}")
        for key, n in sorted(tally.items()):
            print(f"  {key}: {n}")
        print(f"a wrong code is answered after {per_wrong:.2f} s on average")
        print(f"the right code: login {status} -> {location}, page {page}, websocket {ws}")
    finally:
        server.terminate()
        server.wait(30)


if __name__ == "__main__":
    main()
