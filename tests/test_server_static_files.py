"""Streamlit's frontend files from memory: the same answers as Streamlit's own handler (the
oracle), the file read once, and everything but plain GETs of immutable files left to it."""

from __future__ import annotations

import asyncio
import inspect
from pathlib import Path
from typing import Any

import pytest
from streamlit import file_util
from streamlit.web.server.starlette import starlette_static_routes as routes

from cnnviz.server import static_files
from tests.conftest import run_async

STATIC = file_util.get_static_dir()


def _a_bundle() -> str:
    """A hashed JavaScript bundle of this Streamlit (the largest: several 64 kB reads)."""
    bundles = sorted(Path(STATIC, "static", "js").glob("*.js"), key=lambda p: p.stat().st_size)
    return "/" + bundles[-1].relative_to(STATIC).as_posix()


@pytest.fixture(autouse=True)
def put_back(monkeypatch) -> None:
    """Streamlit's own functions during each test (app.py's cnnviz.server.install() may have
    replaced them in this process already), and whatever install() did put back after."""
    from streamlit.web.server.starlette import starlette_app

    for module, name in [
        (routes, "create_streamlit_static_handler"),
        (starlette_app, "create_streamlit_middleware"),
    ]:
        monkeypatch.setattr(module, name, getattr(module, name))
        # Streamlit's own (app.py's cnnviz.server.install() may have run in this process)
        monkeypatch.setattr(module, name, inspect.unwrap(getattr(module, name)))


def _fetch(app: Any, path: str, method: str = "GET", headers: dict[str, str] | None = None):
    """One request straight through the ASGI app: (status, headers, body)."""
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
        "http_version": "1.1",
        "scheme": "http",
        "server": ("127.0.0.1", 80),
    }
    sent: list[dict] = []

    async def run() -> None:
        requested, done = False, asyncio.Event()

        async def receive() -> dict:
            nonlocal requested
            if not requested:
                requested = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await done.wait()  # the client stays until the whole answer came
            return {"type": "http.disconnect"}

        async def send(message: dict) -> None:
            sent.append(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                done.set()

        await app(scope, receive, send)

    run_async(run())
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return sent[0]["status"], sorted(sent[0]["headers"]), body


class Counted:
    """A handler whose own get_response calls are counted (the file system's work)."""

    def __init__(self) -> None:
        self.handler = routes.create_streamlit_static_handler(STATIC, None)
        self.calls = 0
        plain = self.handler.get_response

        async def counted(path: str, scope: Any):
            self.calls += 1
            return await plain(path, scope)

        self.handler.get_response = static_files.remembering(counted)


def test_a_bundle_is_answered_as_streamlit_does_and_read_once() -> None:
    plain = routes.create_streamlit_static_handler(STATIC, None)
    remembered = Counted()
    path = _a_bundle()
    expected = _fetch(plain, path)
    assert expected[0] == 200 and len(expected[2]) == Path(STATIC, path[1:]).stat().st_size
    assert (b"cache-control", b"public, immutable, max-age=31536000") in expected[1]
    assert _fetch(remembered.handler, path) == expected
    assert _fetch(remembered.handler, path) == expected
    assert remembered.calls == 1


@pytest.mark.parametrize(
    ("method", "headers"),
    [("HEAD", {}), ("GET", {"Range": "bytes=0-99"}), ("GET", {"If-None-Match": "ETAG"})],
)
def test_other_requests_go_the_usual_way(method: str, headers: dict[str, str]) -> None:
    plain = routes.create_streamlit_static_handler(STATIC, None)
    remembered = Counted()
    path = _a_bundle()
    etag = dict(_fetch(plain, path)[1])[b"etag"].decode()
    headers = {k: etag if v == "ETAG" else v for k, v in headers.items()}
    _fetch(remembered.handler, path)  # kept now
    for _ in range(2):
        assert _fetch(remembered.handler, path, method, headers) == _fetch(
            plain, path, method, headers
        )
    assert remembered.calls == 3  # the plain GET, then both of these


@pytest.mark.parametrize("path", ["/", "/vgg", "/static/no-such-file.js"])
def test_the_index_page_is_never_kept(path: str) -> None:
    # no-cache: it is every page URL's answer too
    plain = routes.create_streamlit_static_handler(STATIC, None)
    remembered = Counted()
    for _ in range(2):
        assert _fetch(remembered.handler, path) == _fetch(plain, path)
    assert remembered.calls == 2


def test_install_wraps_the_handler_streamlit_builds(put_back) -> None:
    original = routes.create_streamlit_static_handler
    assert static_files.install()
    assert static_files.install()  # once is enough: not wrapped twice
    assert routes.create_streamlit_static_handler.__wrapped__ is original
    handler = routes.create_streamlit_static_handler(STATIC, None)
    assert handler.get_response.__qualname__ == "remembering.<locals>.answer"
    path = _a_bundle()
    assert _fetch(handler, path) == _fetch(original(STATIC, None), path)


def test_the_front_door_answers_kept_files_and_passes_the_rest() -> None:
    plain = routes.create_streamlit_static_handler(STATIC, None)
    kept: static_files.Kept = {}
    handler = routes.create_streamlit_static_handler(STATIC, None)
    handler.get_response = static_files.remembering(handler.get_response, kept)
    calls: list[str] = []

    async def app(scope, receive, send):  # the middleware and routes behind the door
        calls.append(scope["path"])
        await handler(scope, receive, send)

    door = static_files.FrontDoor(app, kept)
    path = _a_bundle()
    expected = _fetch(plain, path)
    assert _fetch(door, path) == expected  # through the app: now kept
    assert _fetch(door, path) == expected  # at the door
    assert _fetch(door, path, "HEAD") == _fetch(plain, path, "HEAD")
    assert _fetch(door, "/") == _fetch(plain, "/")
    assert calls == [path, path, "/"]


def test_install_puts_the_front_door_first(put_back) -> None:
    from streamlit.web.server.starlette import starlette_app

    original = starlette_app.create_streamlit_middleware
    static_files.install()
    static_files.install()
    stack = starlette_app.create_streamlit_middleware()
    assert [m.cls for m in stack] == [static_files.FrontDoor] + [m.cls for m in original()]


def test_the_internals_it_patches_have_the_recorded_shape() -> None:
    """What cnnviz/server/static_files.py relies on (streamlit 1.67, starlette 1.10): the two
    module functions it replaces, called by name where the server is built, and the Starlette
    method it wraps. If one is reshaped, this fails before a class meets it."""
    import inspect

    from starlette.responses import FileResponse
    from starlette.staticfiles import StaticFiles
    from streamlit.web.server.starlette import starlette_app

    make = inspect.unwrap(routes.create_streamlit_static_handler)
    assert (
        str(inspect.signature(make))
        == "(directory: 'str', base_url: 'str | None') -> 'StaticFiles'"
    )
    assert "create_streamlit_static_handler(" in inspect.getsource(
        routes.create_streamlit_static_assets_routes
    )
    middleware = inspect.unwrap(starlette_app.create_streamlit_middleware)
    assert str(inspect.signature(middleware)) == "() -> 'list[Middleware]'"
    assert "create_streamlit_middleware()" in inspect.getsource(starlette_app.create_starlette_app)
    assert str(inspect.signature(StaticFiles.get_response)) == (
        "(self, path: 'str', scope: 'Scope') -> 'Response'"
    )
    assert "self.path = path" in inspect.getsource(FileResponse.__init__)
