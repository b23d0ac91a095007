"""SHA-256 of a file, remembered per (path, size, modification time, inode): a weights file is
read once per process, not once per run."""

from __future__ import annotations

import hashlib
import os
import threading

_hashes: dict[tuple[str, int, int, int], str] = {}
_lock = threading.Lock()
_KEPT = 64  # files remembered; the oldest is forgotten first


def file_sha256(path: str | os.PathLike[str]) -> str:
    """The file's SHA-256 (hex); hashed again only when its size, mtime or inode changed."""
    real = os.path.realpath(path)
    st = os.stat(real)
    stamp = (real, st.st_size, st.st_mtime_ns, st.st_ino)
    with _lock:
        known = _hashes.get(stamp)
    if known is not None:
        return known
    digest = hashlib.sha256()
    with open(real, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    value = digest.hexdigest()
    with _lock:
        _hashes[stamp] = value
        while len(_hashes) > _KEPT:
            del _hashes[next(iter(_hashes))]
    return value
