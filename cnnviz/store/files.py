"""Files in the store's folder, beside its objects: `store_file` writes what a job in another
process reads by path (a fine-tuned model, a run's validation images) to `files/`, named by
its content; `file_sha256` hashes a file once per process (per path, size, modification time
and inode), not once per run."""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import uuid
from collections.abc import Mapping
from pathlib import Path

from cnnviz.store.disk import FILES, default_store, store_settings

STORE_KEPT = 16  # files of each kind the store keeps (fine-tuned models, images), newest first

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


def model_store(environ: Mapping[str, str] = os.environ) -> Path:
    """The folder fine-tuned models (and a run's validation images) are written to for jobs in
    other processes, read by path: `files/` in the store's folder (CNNVIZ_STORE, a folder every
    worker reads: on one machine, or shared by a cluster), beside its objects."""
    return store_settings(environ)[0] / FILES


def store_file(kind: str, suffix: str, data: bytes) -> tuple[str, Path]:
    """Write `data` to the model store as KIND-HASH.SUFFIX (HASH: its sha256, 16 hex digits),
    once (the same bytes, the same file), whole or not at all for a reader in another
    process; keep the STORE_KEPT newest files of the kind, and the store within its bound
    (CNNVIZ_STORE_MB counts the files with the objects). Its hash and path."""
    digest = hashlib.sha256(data).hexdigest()[:16]
    folder = model_store()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{kind}-{digest}{suffix}"
    if path.is_file():
        os.utime(path)  # used again: the newest
        return digest, path
    part = folder / f".{path.name}.{uuid.uuid4().hex}"
    part.write_bytes(data)
    os.replace(part, path)
    stamped = []
    for f in folder.glob(f"{kind}-*{suffix}"):
        with contextlib.suppress(FileNotFoundError):  # removed by another process meanwhile
            stamped.append((f.stat().st_mtime, f))
    for _, old in sorted(stamped, reverse=True)[STORE_KEPT:]:
        old.unlink(missing_ok=True)
    default_store().evict()
    return digest, path
