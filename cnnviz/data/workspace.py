"""A per-session temporary folder: everything a session unpacks goes here and nowhere else.

It is removed when the session closes it (close() or a `with` block), when the object is
garbage-collected, and at interpreter exit (weakref.finalize runs its callback at exit too), so
a server that stops leaves no student files behind.

Files a session keeps (an uploaded weights file) are stored with `store`, which refuses with
SessionDiskFull, writing nothing, a file that would take the folder past its bound
(CNNVIZ_SESSION_DISK_MB, default cnnviz.data.limits.SESSION_DISK_MB), and removed with `remove`
and `keep_only` as soon as nothing uses them.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import weakref
from collections.abc import Collection, Mapping
from pathlib import Path
from types import TracebackType

from cnnviz.data import limits
from cnnviz.errors import OutOfBounds, SessionDiskFull
from cnnviz.notation import megabytes

PREFIX = "cnnviz-"
DISK_ENV = "CNNVIZ_SESSION_DISK_MB"
MB = 2**20


def session_disk_bytes(environ: Mapping[str, str] = os.environ) -> int:
    """The bound on one session's folder in bytes: CNNVIZ_SESSION_DISK_MB (whole MB of 2**20
    bytes) when set, else limits.SESSION_DISK_MB; OutOfBounds for a value that is not one."""
    text = environ.get(DISK_ENV, "").strip()
    if not text:
        return limits.SESSION_DISK_MB.high * MB
    try:
        value = int(text)
    except ValueError:
        raise OutOfBounds(
            f"{DISK_ENV} must be a whole number of MB, not {text!r}.",
            f"Set {DISK_ENV} to a number of MB such as {limits.SESSION_DISK_MB.high}.",
        ) from None
    if value < 1:
        raise OutOfBounds(f"{DISK_ENV} must be at least 1 MB, not {value}.")
    return value * MB


class Workspace:
    """A folder made by tempfile.mkdtemp (prefix cnnviz-, under tempfile.gettempdir())."""

    def __init__(self, max_bytes: int | None = None) -> None:
        self.max_bytes = session_disk_bytes() if max_bytes is None else max_bytes
        self.path = Path(tempfile.mkdtemp(prefix=PREFIX))
        self._finalizer = weakref.finalize(self, shutil.rmtree, str(self.path), True)

    def folder(self, name: str = "upload") -> Path:
        """A new, empty subfolder (a fresh name each call: two uploads never share one)."""
        if self.closed:
            raise RuntimeError("the workspace is closed")
        return Path(tempfile.mkdtemp(prefix=f"{name}-", dir=self.path))

    def used_bytes(self) -> int:
        """The bytes of every file in the folder now (links not followed)."""
        total = 0
        for root, _, files in os.walk(self.path):
            for name in files:
                with contextlib.suppress(FileNotFoundError):  # removed meanwhile
                    total += os.lstat(os.path.join(root, name)).st_size
        return total

    def store(self, name: str, data: bytes | memoryview, file_name: str) -> Path:
        """`data` written as `file_name` in a new subfolder (see folder); its path.
        SessionDiskFull, with nothing written, when it would take the folder past max_bytes."""
        used = self.used_bytes()
        size = len(data)
        if used + size > self.max_bytes:
            raise SessionDiskFull(
                f"This file ({megabytes(size)}) does not fit in your folder on the server: "
                f"{megabytes(used)} of its {megabytes(self.max_bytes)} are in use."
            )
        path = self.folder(name) / file_name
        try:
            path.write_bytes(data)
        except BaseException:
            self.remove(path)
            raise
        return path

    def remove(self, path: str | os.PathLike[str]) -> None:
        """Remove a stored file with the subfolder `store` made for it (a path outside the
        folder, or one already gone, is left alone)."""
        sub = self._subfolder(Path(path))
        if sub is not None:
            shutil.rmtree(sub, ignore_errors=True)

    def keep_only(self, name: str, keep: Collection[str | os.PathLike[str]] = ()) -> None:
        """Remove every subfolder made for `name` except those holding a path in `keep`."""
        kept = {self._subfolder(Path(p)) for p in keep}
        for sub in self.path.glob(f"{name}-*"):
            if sub.is_dir() and sub not in kept:
                shutil.rmtree(sub, ignore_errors=True)

    def _subfolder(self, path: Path) -> Path | None:
        """The subfolder of the workspace that `path` lies in, if any."""
        try:
            rel = path.resolve().relative_to(self.path.resolve())
        except ValueError:
            return None
        return self.path / rel.parts[0] if rel.parts else None

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
