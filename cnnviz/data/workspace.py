"""A per-session temporary folder: everything a session unpacks goes here and nowhere else.

It is removed when the session closes it (close() or a `with` block), when the object is
garbage-collected, and at interpreter exit (weakref.finalize runs its callback at exit too), so
a server that stops leaves no student files behind.
"""

from __future__ import annotations

import shutil
import tempfile
import weakref
from pathlib import Path
from types import TracebackType

PREFIX = "cnnviz-"


class Workspace:
    """A folder made by tempfile.mkdtemp (prefix cnnviz-, under tempfile.gettempdir())."""

    def __init__(self) -> None:
        self.path = Path(tempfile.mkdtemp(prefix=PREFIX))
        self._finalizer = weakref.finalize(self, shutil.rmtree, str(self.path), True)

    def folder(self, name: str = "upload") -> Path:
        """A new, empty subfolder (a fresh name each call: two uploads never share one)."""
        if self.closed:
            raise RuntimeError("the workspace is closed")
        return Path(tempfile.mkdtemp(prefix=f"{name}-", dir=self.path))

    @property
    def closed(self) -> bool:
        return not self._finalizer.alive

    def close(self) -> None:
        """Remove the folder and everything in it (again is a no-op)."""
        self._finalizer()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        err: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Workspace({str(self.path)!r}{', closed' if self.closed else ''})"
