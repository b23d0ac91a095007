"""The class-code gate (cnnviz.server.gate) driven as ASGI middleware, and its patch's hold on
Streamlit: the code is asked before any page, upload or websocket, from any address; the
right code sets a cookie that every later request carries; every browser gets its own
secret. The oracle: the ASGI messages a server would send."""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import time
from typing import Any

import pytest

from cnnviz.server import access, gate
from cnnviz.server.access import BROWSER_COOKIE, CLASS_COOKIE, ClassCode

CODE = ClassCode("K7QM-4TXP")


async def inner_app(scope: dict, receive: Any, send: Any) -> None:
    """Streamlit's stand-in: 'app' for HTTP, an accepted websocket."""
    if scope["type"] == "websocket":
        await send({"type": "websocket.accept"})
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"app"})


def call(
    code: ClassCode,
    path: str = "/",
    *,
    method: str = "GET",
    kind: str = "http",
    cookies: dict[str, str] | None = None,
    body: bytes = b"",
    client: str = "127.0.0.1",
    query: str = "",
    extra: list[tuple[bytes, bytes]] = (),
) -> tuple[int | str, dict[str, list[str]], bytes]:
    """One request through Gate(inner_app): the status (or 'accepted'/'refused' for a
    websocket), the response headers, the body."""
    headers = list(extra)
    if cookies:
        headers.append((b"cookie", "; ".join(f"{k}={v}" for k, v in cookies.items()).encode()))
    scope = {
        "type": kind,
        "path": path,
        "method": method,
        "headers": headers,
        "query_string": query.encode(),
        "client": (client, 50000),
        "scheme": "http" if kind == "http" else "ws",
    }
    sent: list[dict] = []
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    # In a thread of its own: another test may have left an event loop running in this one.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, gate.Gate(inner_app, code)(scope, receive, send)).result()
    if kind == "websocket":
        return ("accepted" if sent[0]["type"] == "websocket.accept" else "refused"), {}, b""
    start = sent[0]
    found: dict[str, list[str]] = {}
    for name, value in start["headers"]:
        found.setdefault(name.decode(), []).append(value.decode())
    return start["status"], found, b"".join(m.get("body", b"") for m in sent[1:])


def cookie_values(headers: dict[str, list[str]]) -> dict[str, str]:
    return {
        c.split("=", 1)[0]: c.split("=", 1)[1].split(";", 1)[0]
        for c in headers.get("set-cookie", [])
    }


def test_without_the_code_nothing_is_reachable_from_any_address() -> None:
    for client in ("127.0.0.1", "10.1.2.3"):  # behind nginx everyone comes from loopback
        status, headers, body = call(CODE, "/transfer_learning", client=client)
        assert status == 401 and b'type="password"' in body and b"Class code" in body
        assert headers["cache-control"] == ["no-store"]
        for path in ("/_stcore/upload_file/abc/def", "/static/js/index.js", "/media/x.png"):
            assert call(CODE, path, method="PUT" if "upload" in path else "GET")[0] == 401
        assert call(CODE, "/_stcore/stream", kind="websocket", client=client)[0] == "refused"
    # A forged or stale cookie (another code's) is no key.
    other = {CLASS_COOKIE: access.proof("ANOTHER-CODE")}
    assert call(CODE, "/", cookies=other)[0] == 401
    assert call(CODE, "/_stcore/stream", kind="websocket", cookies=other)[0] == "refused"
    # The health check stays open (the launcher and nginx wait on it).
    assert call(CODE, "/_stcore/health")[0] == 200


def test_the_right_code_lets_a_browser_in_once_and_the_wrong_one_does_not() -> None:
    form = b"code=k7qm+4txp&next=%2Ftransfer_learning%3Fdepth%3D3"  # case and spaces don't count
    status, headers, _ = call(CODE, gate.LOGIN_PATH, method="POST", body=form)
    assert status == 303
    assert headers["location"] == ["/transfer_learning?depth=3"]
    set_cookies = headers["set-cookie"]
    assert all("HttpOnly" in c and "SameSite=Lax" in c for c in set_cookies)
    jar = cookie_values(headers)
    assert jar[CLASS_COOKIE] == access.proof(CODE.code) and CODE.code not in jar[CLASS_COOKIE]
    assert len(jar[BROWSER_COOKIE]) >= 30
    # Every later request carries the cookie: pages, files, the websocket.
    assert call(CODE, "/vgg", cookies=jar) == (200, {}, b"app")
    assert call(CODE, "/_stcore/stream", kind="websocket", cookies=jar)[0] == "accepted"

    started = time.monotonic()
    status, headers, body = call(CODE, gate.LOGIN_PATH, method="POST", body=b"code=K7QM-4TXQ")
    assert status == 401 and b"not this class" in body and "set-cookie" not in headers
    assert time.monotonic() - started >= gate.WRONG_CODE_DELAY_S * 0.9  # guessing is slow
    # After the login, only a path of this server: never another site.
    for target in ("https://evil.example/", "//evil.example", "/\\evil", "javascript:x"):
        body = f"code=K7QM-4TXP&next={target}".encode()
        assert call(CODE, gate.LOGIN_PATH, method="POST", body=body)[1]["location"] == ["/"]
    assert call(CODE, gate.LOGIN_PATH, method="POST", body=b"x" * 5000)[0] == 413


def test_every_browser_gets_a_secret_of_its_own_and_keeps_it() -> None:
    open_code = ClassCode(None)  # a loopback-only server: no code, but owners all the same
    first = cookie_values(call(open_code, "/")[1])[BROWSER_COOKIE]
    second = cookie_values(call(open_code, "/")[1])[BROWSER_COOKIE]
    assert first != second
    status, headers, _ = call(open_code, "/", cookies={BROWSER_COOKIE: first})
    assert status == 200 and "set-cookie" not in headers  # kept, not replaced
    assert access.owner_of(first) != access.owner_of(second)
    assert first not in access.owner_of(first)  # the runner holds a hash, not the secret
    # Behind TLS at nginx (X-Forwarded-Proto) the cookies are Secure; over plain HTTP not.
    assert "Secure" not in call(open_code, "/")[1]["set-cookie"][0]
    tls = call(open_code, "/", extra=[(b"x-forwarded-proto", b"https")])
    assert tls[1]["set-cookie"][0].endswith("; Secure")


def test_the_class_code_setting() -> None:
    assert access.class_code("127.0.0.1", {}).code is None  # loopback: nobody else can come
    assert access.class_code("::1", {}).code is None
    generated = access.class_code("0.0.0.0", {})
    assert generated.generated and len(access.normalize(generated.code)) == 8
    assert set(access.normalize(generated.code)) <= set(access.ALPHABET)
    assert access.class_code("", {}).required  # Streamlit's default: every interface
    set_code = access.class_code("127.0.0.1", {access.CLASS_CODE_ENV: "Room 101"})
    assert set_code.code == "Room 101" and not set_code.generated  # set: asked even on loopback
    assert set_code.accepts_typed("room101") and not set_code.accepts_typed("room 102")
    with pytest.raises(ValueError, match="4 to 64"):
        access.class_code("0.0.0.0", {access.CLASS_CODE_ENV: "ab"})
    assert "class code K7QM-4TXP" in CODE.banner("http://host:8501")


def test_the_patch_still_holds_on_this_streamlit() -> None:
    """gate.install() replaces `create_streamlit_middleware`, which `create_starlette_app`
    calls once per server (streamlit 1.67, web/server/starlette/starlette_app.py). If either
    changes, this fails and the launcher refuses to start a server that needs the code."""
    from starlette.middleware import Middleware
    from streamlit.web.server.starlette import starlette_app

    assert "create_streamlit_middleware()" in inspect.getsource(starlette_app.create_starlette_app)
    original = starlette_app.create_streamlit_middleware
    try:
        assert gate.install(CODE)
        assert gate.install(CODE)  # twice: still one gate
        stack = starlette_app.create_streamlit_middleware()
        assert all(isinstance(m, Middleware) for m in stack)
        assert [m.cls for m in stack].count(gate.Gate) == 1 and stack[0].cls is gate.Gate
        assert stack[0].kwargs == {"code": CODE}
    finally:
        starlette_app.create_streamlit_middleware = original
