"""A content-addressed store on disk, shared by every process of one machine (the server's and
its job workers) and by machines that mount the same folder.

An entry is a file `objects/<key>` whose key is the SHA-256 (hex) of its full description
(`key_of`), so two entries never share a file unless every part of their description is
equal. The file holds a magic tag, the SHA-256 of its payload and the payload: a torn or
damaged file reads as a miss, never as data.

- Writes are atomic: a temporary file in `tmp/`, then `os.replace` (two processes writing one
  key leave one whole entry, whichever came last).
- Reading an entry touches it (its mtime is its last use).
- The store is bounded (`max_bytes`): after every write the least recently used entries are
  removed until it fits, under an exclusive `fcntl` lock on the `lock` file, so processes
  evicting at once never remove more than needed.
- Files in `files/` (cnnviz.store.files: a fine-tuned model, a run's validation images, read
  by path in another process) count in the bound too, and leave least recently used first
  with the objects (a file is touched when written again).
- Pinned entries (`pin`: a queued or running job's dataset) are never evicted: they are what
  a job needs, and leave with their last pin (`unpin`), or stay as ordinary entries. A pin
  older than STALE_PIN_SECONDS is taken for one a crashed process left behind and no longer
  counts.

Place and size are the operator's settings CNNVIZ_STORE (a folder; default `cnnviz-store` in
the system's temporary folder) and CNNVIZ_STORE_MB, read here only (`store_settings`).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from cnnviz.errors import OutOfBounds
from cnnviz.store import limits

STORE_ENV = "CNNVIZ_STORE"
STORE_MB_ENV = "CNNVIZ_STORE_MB"
MB = 2**20
MAGIC = b"CNVZST01"
_HEADER = len(MAGIC) + 32  # the tag, then the payload's SHA-256
_KEY = re.compile(r"[0-9a-f]{64}")
FILES = "files"  # beside objects/: what cnnviz.store.files writes, read by path
STALE_PIN_SECONDS = 24 * 3600  # no class's queued run waits a day
STALE_TMP_SECONDS = 3600  # a write that never finished (its process died)
CLAIM_POLL_S = 0.1  # how often a caller waiting for another's claim looks again


def key_of(description: Mapping[str, object]) -> str:
    """The key of an entry: SHA-256 (hex) of its description as canonical JSON (sorted keys),
    so every part of the description, and only that, decides which file it is."""
    text = json.dumps(description, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Entry:
    key: str
    bytes: int
    last_used: float  # the file's mtime: its last write or read


class Store:
    """The folder `root` (made if absent, private to this user) holding at most about
    `max_bytes` of entries besides the pinned ones."""

    def __init__(self, root: str | os.PathLike[str], max_bytes: int) -> None:
        self.root = Path(root)
        self.max_bytes = int(max_bytes)
        for sub in ("objects", "pins", "tmp"):
            (self.root / sub).mkdir(parents=True, exist_ok=True, mode=0o700)

    def __repr__(self) -> str:
        return f"Store({str(self.root)!r}, max_bytes={self.max_bytes})"

    # --- entries -------------------------------------------------------------------------
    def path(self, key: str) -> Path:
        """The entry's file; ValueError for a key that is not 64 lowercase hex digits (no
        other name ever reaches the disk)."""
        if not isinstance(key, str) or not _KEY.fullmatch(key):
            raise ValueError(f"a store key is 64 lowercase hex digits, not {key!r}")
        return self.root / "objects" / key

    def has(self, key: str) -> bool:
        return self.path(key).is_file()

    def get(self, key: str) -> bytes | None:
        """The entry's payload, touched as just used; None when absent or damaged (a damaged
        file is removed: the next write replaces it)."""
        path = self.path(key)
        try:
            with path.open("rb") as f:
                blob = f.read()
        except FileNotFoundError:
            return None
        payload = blob[_HEADER:]
        checksum = blob[len(MAGIC) : _HEADER]
        if blob[: len(MAGIC)] != MAGIC or hashlib.sha256(payload).digest() != checksum:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            return None
        with contextlib.suppress(FileNotFoundError):  # evicted since: the payload is whole
            os.utime(path)
        return payload

    def put(self, key: str, payload: bytes) -> bool:
        """Store `payload` under `key` atomically, then evict to the bound. False, writing
        nothing, when the entry alone is larger than the bound and not pinned."""
        path = self.path(key)
        blob_size = _HEADER + len(payload)
        if blob_size > self.max_bytes and not self.pinned(key):
            return False
        fd, tmp = tempfile.mkstemp(prefix=f"{key[:16]}-", dir=self.root / "tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(MAGIC)
                f.write(hashlib.sha256(payload).digest())
                f.write(payload)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        self.evict()
        return True

    def remove(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path(key).unlink()

    def entries(self) -> list[Entry]:
        """Every entry now, in no particular order."""
        out = []
        with os.scandir(self.root / "objects") as it:
            for item in it:
                if not _KEY.fullmatch(item.name):
                    continue
                with contextlib.suppress(FileNotFoundError):  # removed meanwhile
                    st = item.stat()
                    out.append(Entry(item.name, st.st_size, st.st_mtime))
        return out

    def files(self) -> list[Entry]:
        """Every file in `files/` (whole: not a part being written), as entries whose key is
        `files/NAME`: they count in the bound with the objects."""
        out = []
        try:
            it = os.scandir(self.root / FILES)
        except FileNotFoundError:
            return out
        with it:
            for item in it:
                if item.name.startswith("."):  # a part being written
                    continue
                with contextlib.suppress(FileNotFoundError):  # removed meanwhile
                    st = item.stat()
                    out.append(Entry(f"{FILES}/{item.name}", st.st_size, st.st_mtime))
        return out

    def used_bytes(self) -> int:
        """Bytes of the objects and the files."""
        return sum(e.bytes for e in (*self.entries(), *self.files()))

    def evict(self) -> list[str]:
        """Remove the least recently used unpinned entries and files until the store fits its
        bound; the keys removed (`files/NAME` for a file), oldest first. Under the store's
        lock: processes evicting at once take turns, each seeing what the one before left."""
        removed: list[str] = []
        with self._locked():
            self._sweep_tmp()
            entries = [*self.entries(), *self.files()]
            total = sum(e.bytes for e in entries)
            for entry in sorted(entries, key=lambda e: e.last_used):
                if total <= self.max_bytes:
                    break
                if entry.key.startswith(FILES + "/"):
                    with contextlib.suppress(FileNotFoundError):
                        (self.root / entry.key).unlink()
                elif self.pinned(entry.key):
                    continue
                else:
                    self.remove(entry.key)
                total -= entry.bytes
                removed.append(entry.key)
        return removed

    # --- pins ----------------------------------------------------------------------------
    def pin(self, key: str) -> str:
        """Keep `key`'s entry (present or about to be written) from eviction; the pin's token
        for `unpin`. Taken under the lock, so an eviction running now either sees the pin or
        has removed the entry already (the caller checks `has` after pinning)."""
        self.path(key)  # the key's check
        token = uuid.uuid4().hex
        with self._locked():
            folder = self.root / "pins" / key
            folder.mkdir(exist_ok=True, mode=0o700)
            (folder / token).touch()
        with contextlib.suppress(FileNotFoundError):  # reused: as good as just written
            os.utime(self.path(key))
        return token

    def unpin(self, key: str, token: str, *, remove: bool = True) -> bool:
        """Drop one pin (again, or an unknown token: nothing happens); when no pin is left, the
        entry leaves the store at once, or, with remove=False, stays as any other entry, until
        eviction. True when the entry is gone."""
        self.path(key)
        if not re.fullmatch(r"[0-9a-f]{32}", token or ""):
            raise ValueError(f"not a pin token: {token!r}")
        with self._locked():
            folder = self.root / "pins" / key
            with contextlib.suppress(FileNotFoundError):
                (folder / token).unlink()
            if self.pinned(key):
                return False
            with contextlib.suppress(OSError):  # not empty: stale pins only, removed above
                folder.rmdir()
            if remove:
                self.remove(key)
            return not self.has(key)

    def pinned(self, key: str) -> bool:
        """Whether a live pin holds the entry (stale pins are removed on the way)."""
        folder = self.root / "pins" / key
        try:
            pins = list(os.scandir(folder))
        except FileNotFoundError:
            return False
        now = time.time()
        live = False
        for pin in pins:
            try:
                if now - pin.stat().st_mtime < STALE_PIN_SECONDS:
                    live = True
                else:
                    os.unlink(pin.path)
            except FileNotFoundError:
                continue
        return live

    @contextlib.contextmanager
    def claim(self, key: str, waiting: Callable[[], object] | None = None) -> Iterator[None]:
        """Hold `key` for computing it (across processes and threads: a flock of its own):
        a second caller waits here, calling `waiting()` every CLAIM_POLL_S seconds (a job's
        report, so a stop still reaches it), and then finds the entry the first one put."""
        self.path(key)  # refuses a key that is not one
        folder = self.root / "claims"
        folder.mkdir(exist_ok=True, mode=0o700)
        path = folder / key
        with open(path, "a+b") as f:
            while True:
                try:
                    fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if waiting is not None:
                        waiting()
                    time.sleep(CLAIM_POLL_S)
            try:
                yield
            finally:  # the empty file stays: unlinked, a third caller would lock a new one
                fcntl.flock(f.fileno(), fcntl.LOCK_UN)

    # --- housekeeping --------------------------------------------------------------------
    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """The store's exclusive lock, across processes (flock) and threads (each call opens
        the lock file anew: flock locks belong to the open file)."""
        with open(self.root / "lock", "a+b") as f:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f.fileno(), fcntl.LOCK_UN)

    def _sweep_tmp(self) -> None:
        now = time.time()
        with os.scandir(self.root / "tmp") as it:
            for item in it:
                with contextlib.suppress(FileNotFoundError):
                    if now - item.stat().st_mtime > STALE_TMP_SECONDS:
                        os.unlink(item.path)


def store_settings(environ: Mapping[str, str] = os.environ) -> tuple[Path, int]:
    """(folder, bound in bytes): CNNVIZ_STORE (default `cnnviz-store` in the system's temporary
    folder) and CNNVIZ_STORE_MB (whole MB of 2**20 bytes, within limits.STORE_MB; default
    limits.DEFAULT_STORE_MB); OutOfBounds for a size that is not one."""
    root = environ.get(STORE_ENV, "").strip() or os.path.join(tempfile.gettempdir(), "cnnviz-store")
    text = environ.get(STORE_MB_ENV, "").strip()
    if not text:
        return Path(root), limits.DEFAULT_STORE_MB * MB
    try:
        value = int(text)
    except ValueError:
        raise OutOfBounds(
            f"{STORE_MB_ENV} must be a whole number of MB, not {text!r}.",
            f"Set {STORE_MB_ENV} to a number of MB such as {limits.DEFAULT_STORE_MB}.",
        ) from None
    return Path(root), limits.STORE_MB.check(value, STORE_MB_ENV) * MB


_stores: dict[tuple[Path, int], Store] = {}
_stores_lock = threading.Lock()


def default_store() -> Store:
    """The store the settings name (one object per setting, made on first use)."""
    settings = store_settings()
    with _stores_lock:
        if settings not in _stores:
            _stores[settings] = Store(*settings)
        return _stores[settings]
