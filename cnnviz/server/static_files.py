"""Streamlit's frontend files (its JavaScript bundles) served from memory.

Every new student's browser fetches all of them, once. Starlette's StaticFiles answers each
with a thread hop to look the file up, one to open it, one per 64 kB read and one to close it:
server CPU spent per arriving student, comparable to the pages they then view (bench/README.md
has the figures). The bundles' names carry their content's hash and they are served
`immutable`, so a file's answer never changes while the server runs: `keep_in_memory()` keeps
each answer (body and headers) the first time it is asked for and sends it again from memory.

Only plain GETs of immutable files are kept; a conditional or ranged request, a HEAD, the
index page (no-cache: it is also every page URL's answer) and errors go the usual way. Once
kept, a file's next requests are answered by `FrontDoor`, before Streamlit's middleware and
router (which cost as much again).

Upstream source it relies on (streamlit 1.67, starlette 1.10):
- streamlit/web/server/starlette/starlette_static_routes.py: the module function
  `create_streamlit_static_handler(directory, base_url)` returning a Starlette `StaticFiles`
  (replaced by a wrapper), called by `create_streamlit_static_routes`;
- streamlit/web/server/starlette/starlette_app.py: `create_streamlit_middleware()` (a list of
  `Middleware`), called once by `create_starlette_app` (wrapped: FrontDoor first);
- starlette/staticfiles.py: `StaticFiles.get_response(path, scope)`; starlette/responses.py:
  `FileResponse.path` and `Response.raw_headers`.
tests/test_server_static_files.py checks the answers byte for byte against Streamlit's own
handler and fails when those functions or signatures change.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.responses import FileResponse, Response

# Request headers that make an answer depend on more than the path.
_VARYING = (b"range", b"if-none-match", b"if-modified-since", b"if-range")

CHECKED = {"streamlit": "1.67", "starlette": "1.10"}
GetResponse = Callable[[str, Any], Awaitable[Response]]


def _plain_get(scope: Any) -> bool:
    return scope.get("method") == "GET" and not any(
        name in _VARYING for name, _ in scope.get("headers", ())
    )


def _immutable(response: Response) -> bool:
    return (
        type(response) is FileResponse
        and response.status_code == 200
        and "immutable" in response.headers.get("cache-control", "")
    )


Kept = dict[str, tuple[bytes, list[tuple[bytes, bytes]]]]  # path -> (body, headers)
# By URL path, for FrontDoor: every file the server's static handler has kept.
KEPT_BY_URL: Kept = {}


def remembering(get_response: GetResponse, by_url: Kept | None = None) -> GetResponse:
    """`get_response` (a StaticFiles' method: path, scope -> Response) whose answers for
    plain GETs of immutable files are kept and repeated from memory (also into `by_url`,
    keyed by the request's URL path)."""
    kept: Kept = {}

    async def answer(path: str, scope: Any) -> Response:
        if not _plain_get(scope):
            return await get_response(path, scope)
        hit = kept.get(path)
        if hit is None:
            response = await get_response(path, scope)
            if not _immutable(response):
                return response
            with open(response.path, "rb") as file:  # once per file; from the page cache
                body = file.read()
            hit = kept[path] = (body, list(response.raw_headers))
            if by_url is not None and not scope.get("query_string"):
                by_url[scope["path"]] = hit
        body, headers = hit
        response = Response(status_code=200)
        response.body = body
        response.raw_headers = list(headers)  # its content-length is the file's, len(body)
        return response

    return answer


class FrontDoor:
    """ASGI middleware, outermost: a plain GET of a URL path whose file is kept (a path the
    static handler answered before, past the security checks, as an immutable file) is
    answered at once. The other layers (path security, session, compression, the router's
    match against every route) cost as much again as the answer from memory."""

    def __init__(self, app: Any, kept: Kept = KEPT_BY_URL) -> None:
        self.app = app
        self.kept = kept

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and not scope.get("query_string") and _plain_get(scope):
            hit = self.kept.get(scope["path"])
            if hit is not None:
                body, headers = hit
                await send({"type": "http.response.start", "status": 200, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


def install() -> bool:
    """Make the server Streamlit builds next serve its frontend files from memory (call before
    `streamlit run`). False, and nothing changed, where Streamlit no longer builds them this
    way."""
    try:
        from streamlit.web.server.starlette import starlette_static_routes as routes
    except ImportError:  # another server (Tornado) or a later layout: left as it is
        return False
    make = getattr(routes, "create_streamlit_static_handler", None)
    if make is None:
        return False
    if getattr(make, "remembering", False):
        return _front_door_first()

    def create(directory: str, base_url: str | None) -> Any:
        handler = make(directory, base_url)
        handler.get_response = remembering(handler.get_response, KEPT_BY_URL)
        return handler

    create.remembering = True  # type: ignore[attr-defined]
    create.__wrapped__ = make  # type: ignore[attr-defined]
    if not _front_door_first():
        return False
    routes.create_streamlit_static_handler = create
    return True


def _front_door_first() -> bool:
    """FrontDoor before the middleware Streamlit puts in front of its routes."""
    try:
        from starlette.middleware import Middleware
        from streamlit.web.server.starlette import starlette_app
    except ImportError:
        return False
    make = getattr(starlette_app, "create_streamlit_middleware", None)
    if make is None:
        return False
    inner = getattr(make, "__wrapped_by_gate__", make)  # the gate stays outermost
    if getattr(inner, "front_door", False):
        return True
    if inner is not make:  # the gate came first: FrontDoor would go in front of it
        return False

    def middleware() -> list[Any]:
        return [Middleware(FrontDoor), *make()]

    middleware.front_door = True  # type: ignore[attr-defined]
    middleware.__wrapped__ = make  # type: ignore[attr-defined]
    starlette_app.create_streamlit_middleware = middleware
    return True
