"""Streamlit's frontend files (its JavaScript bundles) served from memory.

Every new student's browser fetches about 140 of them, 11 MB, once. Starlette's StaticFiles
answers each with a thread hop to look the file up, one to open it, one per 64 kB read and one
to close it: about 0.2 CPU-s of the server per student, a third of what a student's five warm
page views cost it. The bundles' names carry their content's hash and they are served
`immutable`, so a file's answer never changes while the server runs: `keep_in_memory()` keeps
each answer (body and headers) the first time it is asked for and sends it again from memory.

Only plain GETs of immutable files are kept; a conditional or ranged request, a HEAD, the
index page (no-cache: it is also every page URL's answer) and errors go the usual way.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.responses import FileResponse, Response

# Request headers that make an answer depend on more than the path.
_VARYING = (b"range", b"if-none-match", b"if-modified-since", b"if-range")

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


def remembering(get_response: GetResponse) -> GetResponse:
    """`get_response` (a StaticFiles' method: path, scope -> Response) whose answers for
    plain GETs of immutable files are kept and repeated from memory."""
    kept: dict[str, tuple[bytes, list[tuple[bytes, bytes]]]] = {}

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
        body, headers = hit
        response = Response(status_code=200)
        response.body = body
        response.raw_headers = list(headers)  # its content-length is the file's, len(body)
        return response

    return answer


def keep_in_memory() -> None:
    """Make the server Streamlit builds next serve its frontend files from memory (call before
    `streamlit run`). Does nothing where Streamlit no longer builds them this way."""
    try:
        from streamlit.web.server.starlette import starlette_static_routes as routes
    except ImportError:  # another server (Tornado) or a later layout: left as it is
        return
    make = getattr(routes, "create_streamlit_static_handler", None)
    if make is None or getattr(make, "remembering", False):
        return

    def create(directory: str, base_url: str | None) -> Any:
        handler = make(directory, base_url)
        handler.get_response = remembering(handler.get_response)
        return handler

    create.remembering = True  # type: ignore[attr-defined]
    create.__wrapped__ = make  # type: ignore[attr-defined]
    routes.create_streamlit_static_handler = create
