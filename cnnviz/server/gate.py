"""The server's front gate: the class code before anything else, and a secret per browser.

`Gate` is ASGI middleware, the outermost layer of the server:

- With a class code (`cnnviz.server.access`), a request without the class cookie gets the
  login page (a page address) or 401 (anything else: scripts, uploads, media); a websocket
  without it is refused before Streamlit sees it. So no page, upload or job is reachable
  without the code, whatever address the request comes from. `POST /cnnviz-login` checks a
  typed code (a wrong one is answered after a second, against guessing), sets the class
  cookie (HttpOnly, SameSite=Lax, Secure behind TLS) and sends the browser where it was going.
- Every browser without it gets `cnnviz_browser`, a random secret in an HttpOnly cookie: the
  owner of its jobs (`cnnviz.ui.jobs.owner_key`, read from the websocket's handshake).

`install()` puts the gate in front of the middleware Streamlit builds its server with. That is
a patch of a Streamlit internal, `streamlit.web.server.starlette.starlette_app.
create_streamlit_middleware` (a module function that `create_starlette_app` calls once per
server, streamlit 1.67: web/server/starlette/starlette_app.py), checked by
tests/test_server_gate.py, which fails if that function or its call changes.
"""

from __future__ import annotations

import asyncio
import html
import logging
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs

from cnnviz.server.access import (
    BROWSER_COOKIE,
    BROWSER_COOKIE_DAYS,
    CLASS_COOKIE,
    CLASS_COOKIE_DAYS,
    ClassCode,
    proof,
)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

LOGIN_PATH = "/cnnviz-login"
# Open without the code: the health checks (the launcher and nginx wait on them; "ok" only).
OPEN_PATHS = frozenset({"/_stcore/health", "/healthz"})
MAX_FORM_BYTES = 4096
WRONG_CODE_DELAY_S = 1.0
CHECKED = {"streamlit": "1.67", "starlette": "1.10"}
log = logging.getLogger(__name__)


def cookies(scope: Scope) -> dict[str, str]:
    """The request's cookies, read leniently (a malformed pair is skipped, never an error)."""
    found: dict[str, str] = {}
    for name, value in scope.get("headers", ()):
        if name != b"cookie":
            continue
        for pair in value.decode("latin-1").split(";"):
            key, sep, val = pair.strip().partition("=")
            if sep and key and key not in found:
                found[key] = val.strip().strip('"')
    return found


def _header(scope: Scope, wanted: bytes) -> str:
    for name, value in scope.get("headers", ()):
        if name == wanted:
            return value.decode("latin-1")
    return ""


def _secure(scope: Scope) -> bool:
    """Whether the browser reached us over TLS (directly, or at nginx in front)."""
    forwarded = _header(scope, b"x-forwarded-proto").split(",")[0].strip().lower()
    return scope.get("scheme") in ("https", "wss") or forwarded == "https"


def set_cookie(name: str, value: str, days: int, secure: bool) -> tuple[bytes, bytes]:
    attributes = f"{name}={value}; Path=/; Max-Age={days * 86400}; HttpOnly; SameSite=Lax"
    return b"set-cookie", (attributes + ("; Secure" if secure else "")).encode("latin-1")


def safe_next(target: str) -> str:
    """Where to go after the login: a path of this server only (never another site)."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    if any(ord(ch) < 32 for ch in target) or len(target) > 2000:
        return "/"
    return target


def login_page(next_path: str, wrong: bool = False) -> bytes:
    """The class-code form: one password field, readable on a phone and on a projector."""
    error = (
        '<p class="wrong" role="alert">That is not this class\'s code. '
        "Check it with your teacher and type it again.</p>"
        if wrong
        else ""
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>cnnviz: class code</title>
<style>
body {{ font-family: system-ui, sans-serif; background: #f4f6fa; color: #1b1f24; margin: 0;
  display: flex; min-height: 100vh; align-items: center; justify-content: center; }}
main {{ background: #fff; padding: 2.5rem 3rem; border-radius: 12px; max-width: 30rem;
  box-shadow: 0 2px 12px rgba(0,0,0,.08); }}
h1 {{ font-size: 1.8rem; margin: 0 0 .5rem; }}
p {{ font-size: 1.1rem; line-height: 1.5; }}
label {{ display: block; font-weight: 600; font-size: 1.1rem; margin: 1.2rem 0 .4rem; }}
input {{ font-size: 1.4rem; padding: .5rem .7rem; width: 100%; box-sizing: border-box;
  border: 2px solid #8a94a6; border-radius: 8px; letter-spacing: .1em; }}
input:focus {{ outline: 3px solid #1a5fb4; border-color: #1a5fb4; }}
button {{ margin-top: 1rem; font-size: 1.2rem; padding: .6rem 1.6rem; border: 0;
  border-radius: 8px; background: #1a5fb4; color: #fff; cursor: pointer; }}
.wrong {{ color: #a51d2d; font-weight: 600; }}
</style></head>
<body><main>
<h1>cnnviz: CNN architectures</h1>
<p>This server is for one class. Type the class code your teacher shows: this browser
remembers it, so you type it once.</p>
{error}
<form method="post" action="{LOGIN_PATH}">
<label for="code">Class code</label>
<input id="code" name="code" type="password" autocomplete="off" autofocus required
  maxlength="64" spellcheck="false">
<input type="hidden" name="next" value="{html.escape(next_path, quote=True)}">
<button type="submit">Enter</button>
</form>
</main></body></html>
""".encode()


_PAGE_HEADERS = [
    (b"content-type", b"text/html; charset=utf-8"),
    (b"cache-control", b"no-store"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (
        b"content-security-policy",
        b"default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        b"frame-ancestors 'none'",
    ),
]


async def _respond(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]):
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*headers, (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _is_page(scope: Scope) -> bool:
    """A GET of a page's address (where a browser lands), not of a file or an API."""
    path = scope.get("path", "/")
    last = path.rsplit("/", 1)[-1]
    return (
        scope.get("method") in ("GET", "HEAD")
        and not path.startswith(("/_stcore/", "/static/", "/media/", "/component/", "/app/"))
        and "." not in last
    )


class Gate:
    """ASGI middleware: the class code (when one is set) and the browser's secret cookie."""

    def __init__(self, app: ASGIApp, code: ClassCode) -> None:
        self.app = app
        self.code = code

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope.get("type")
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        jar = cookies(scope)
        path = scope.get("path", "/")
        if self.code.required and path not in OPEN_PATHS:
            if kind == "http" and path == LOGIN_PATH:
                await self._login(scope, receive, send, jar)
                return
            if not self.code.accepts_cookie(jar.get(CLASS_COOKIE)):
                await self._refuse(scope, send, kind, jar)
                return
        if kind == "http" and BROWSER_COOKIE not in jar:
            send = self._with_browser_cookie(send, _secure(scope))
        await self.app(scope, receive, send)

    @staticmethod
    def _with_browser_cookie(send: Send, secure: bool) -> Send:
        cookie = set_cookie(BROWSER_COOKIE, secrets.token_urlsafe(24), BROWSER_COOKIE_DAYS, secure)

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = dict(message)
                message["headers"] = [*message.get("headers", ()), cookie]
            await send(message)

        return sending

    async def _refuse(self, scope: Scope, send: Send, kind: str, jar: dict[str, str]) -> None:
        if kind == "websocket":
            # Closing before accepting: the handshake is answered 403, Streamlit never sees it.
            await send({"type": "websocket.close", "code": 1008})
            return
        if _is_page(scope):
            query = scope.get("query_string", b"").decode("latin-1")
            target = scope.get("path", "/") + (f"?{query}" if query else "")
            body = b"" if scope.get("method") == "HEAD" else login_page(safe_next(target))
            await _respond(send, 401, body, list(_PAGE_HEADERS))
            return
        body = b"Class code needed: open the app's address in a browser and type the code.\n"
        await _respond(send, 401, body, [(b"content-type", b"text/plain; charset=utf-8")])

    async def _login(self, scope: Scope, receive: Receive, send: Send, jar: dict[str, str]):
        if scope.get("method") != "POST":
            await _respond(send, 401, login_page("/"), list(_PAGE_HEADERS))
            return
        body = b""
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the browser went away
                return
            body += message.get("body", b"")
            if len(body) > MAX_FORM_BYTES:
                await _respond(send, 413, b"Too large.\n", [(b"content-type", b"text/plain")])
                return
            if not message.get("more_body"):
                break
        form = parse_qs(body.decode("utf-8", "replace"), max_num_fields=4)
        typed = (form.get("code") or [""])[0]
        target = safe_next((form.get("next") or ["/"])[0])
        secure = _secure(scope)
        if not self.code.accepts_typed(typed):
            await asyncio.sleep(WRONG_CODE_DELAY_S)  # a guess a second per connection at most
            log.info("a wrong class code was typed")
            await _respond(send, 401, login_page(target, wrong=True), list(_PAGE_HEADERS))
            return
        assert self.code.code is not None
        headers = [
            (b"location", target.encode("latin-1", "replace")),
            (b"cache-control", b"no-store"),
            set_cookie(CLASS_COOKIE, proof(self.code.code), CLASS_COOKIE_DAYS, secure),
        ]
        if BROWSER_COOKIE not in jar:
            headers.append(
                set_cookie(BROWSER_COOKIE, secrets.token_urlsafe(24), BROWSER_COOKIE_DAYS, secure)
            )
        await _respond(send, 303, b"", headers)


def install(code: ClassCode) -> bool:
    """Put `Gate(code)` in front of the middleware of every Streamlit server this process
    starts. False when Streamlit no longer builds its middleware where this patch expects:
    the launcher then refuses to start a server that needs a class code."""
    try:
        from starlette.middleware import Middleware
        from streamlit.web.server.starlette import starlette_app
    except ImportError:
        return False
    make = getattr(starlette_app, "create_streamlit_middleware", None)
    if make is None:
        return False
    inner = getattr(make, "__wrapped_by_gate__", make)

    def middleware() -> list[Any]:
        return [Middleware(Gate, code=code), *inner()]

    middleware.__wrapped_by_gate__ = inner  # type: ignore[attr-defined]
    middleware.__wrapped__ = inner  # type: ignore[attr-defined]
    starlette_app.create_streamlit_middleware = middleware
    return True
