"""The content-addressed store: keys from descriptions, whole entries or none, least recently
used first out, pins, the operator's settings, and several processes at once."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cnnviz.errors import OutOfBounds
from cnnviz.store import Store, key_of, store_settings
from cnnviz.store import disk as store_disk
from tests.conftest import ROOT

MB = 2**20


def _key(n: int) -> str:
    return key_of({"test": n})


def test_a_key_is_the_sha256_of_the_canonical_description() -> None:
    description = {"b": [1, 2], "a": "x"}
    by_hand = hashlib.sha256(b'{"a":"x","b":[1,2]}').hexdigest()
    assert key_of(description) == by_hand == key_of({"a": "x", "b": [1, 2]})
    assert key_of({"a": "x", "b": [1, 3]}) != by_hand
    assert json.dumps(description)  # plain JSON values only


def test_put_then_get_and_a_miss(tmp_path: Path) -> None:
    store = Store(tmp_path, MB)
    assert store.get(_key(1)) is None
    assert store.put(_key(1), b"features") is True
    assert store.get(_key(1)) == b"features"
    assert store.get(_key(2)) is None
    assert list((tmp_path / "tmp").iterdir()) == []  # the temporary file became the entry


@pytest.mark.parametrize("key", ["../../etc/passwd", "A" * 64, "0" * 63, ""])
def test_only_sha256_keys_reach_the_disk(tmp_path: Path, key: str) -> None:
    with pytest.raises(ValueError, match="64 lowercase hex"):
        Store(tmp_path, MB).put(key, b"x")


def test_a_damaged_entry_reads_as_a_miss_and_leaves(tmp_path: Path) -> None:
    store = Store(tmp_path, MB)
    store.put(_key(1), b"0123456789")
    path = store.path(_key(1))
    blob = bytearray(path.read_bytes())
    blob[-1] ^= 1
    path.write_bytes(bytes(blob))
    assert store.get(_key(1)) is None
    assert not path.exists()
    path.write_bytes(b"short")  # torn: shorter than the header
    assert store.get(_key(1)) is None


def test_eviction_removes_the_least_recently_used_first(tmp_path: Path) -> None:
    payload = b"x" * 1000
    size = len(payload) + store_disk._HEADER
    store = Store(tmp_path, int(3.5 * size))  # three entries fit
    for n in (1, 2, 3):
        assert store.put(_key(n), payload)
    for n, mtime in ((1, 100), (2, 200), (3, 300)):  # written in that order, long ago
        os.utime(store.path(_key(n)), (mtime, mtime))
    assert store.get(_key(1)) == payload  # read now: the most recent
    store.put(_key(4), payload)
    assert {e.key for e in store.entries()} == {_key(1), _key(3), _key(4)}  # 2 was oldest
    assert store.used_bytes() <= store.max_bytes
    store.put(_key(5), payload)
    assert {e.key for e in store.entries()} == {_key(1), _key(4), _key(5)}
    assert store.used_bytes() == 3 * size <= store.max_bytes


def test_an_entry_larger_than_the_bound_is_not_stored(tmp_path: Path) -> None:
    store = Store(tmp_path, 100)
    assert store.put(_key(1), b"x" * 200) is False
    assert store.entries() == []


def test_a_pinned_entry_stays_until_its_last_pin_leaves(tmp_path: Path) -> None:
    payload = b"x" * 1000
    store = Store(tmp_path, 1500)  # one entry fits
    first, second = store.pin(_key(1)), store.pin(_key(1))
    assert store.put(_key(1), payload)
    store.put(_key(2), payload)  # over the bound: the unpinned newcomer goes, not the pinned
    assert {e.key for e in store.entries()} == {_key(1)}
    assert store.unpin(_key(1), first) is False  # another pin holds it
    assert store.get(_key(1)) == payload
    assert store.unpin(_key(1), second) is True
    assert store.get(_key(1)) is None
    assert store.unpin(_key(1), second) is True  # again: nothing happens
    # Pinned, an entry larger than the bound is kept: a queued run needs it.
    pin = store.pin(_key(3))
    assert store.put(_key(3), b"y" * 4000) and store.get(_key(3)) == b"y" * 4000
    store.unpin(_key(3), pin)


def test_a_stale_pin_no_longer_holds(tmp_path: Path) -> None:
    store = Store(tmp_path, MB)
    token = store.pin(_key(1))
    store.put(_key(1), b"x")
    pin_file = tmp_path / "pins" / _key(1) / token
    old = time.time() - store_disk.STALE_PIN_SECONDS - 60
    os.utime(pin_file, (old, old))
    assert store.pinned(_key(1)) is False
    assert not pin_file.exists()


def test_settings_place_and_size() -> None:
    root, size = store_settings({})
    assert root.name == "cnnviz-store" and size == 2048 * MB
    root, size = store_settings({"CNNVIZ_STORE": "/srv/shared/store", "CNNVIZ_STORE_MB": "64"})
    assert root == Path("/srv/shared/store") and size == 64 * MB
    for bad in ("lots", "1.5", "8", str(10**9)):
        with pytest.raises(OutOfBounds, match="CNNVIZ_STORE_MB"):
            store_settings({"CNNVIZ_STORE_MB": bad})


def _writer(root: str, key: str, byte: int, start: float, rounds: int) -> None:
    store = Store(root, MB)
    payload = bytes([byte]) * 300_000
    while time.time() < start:  # every process starts writing at the same moment
        time.sleep(0.001)
    for _ in range(rounds):
        store.put(key, payload)


def _filler(root: str, offset: int, bound: int, start: float) -> None:
    store = Store(root, bound)
    while time.time() < start:
        time.sleep(0.001)
    for n in range(offset, offset + 20):
        store.put(_key(n), bytes([n % 256]) * 1000)


def _run_all(targets: list[tuple[str, tuple[object, ...]]]) -> None:
    """Each target, a function of this module by name with JSON arguments, in a fresh Python
    of its own (a plain subprocess from the repository's root: multiprocessing's spawn would
    start from the test process's working folder and main module, whatever tests did to
    them, and a child that dies before reading its arguments leaves the parent blocked)."""
    code = "import json, sys; from tests.test_store_disk import {0}; {0}(*json.loads(sys.argv[1]))"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code.format(name), json.dumps(list(args))], cwd=ROOT
        )
        for name, args in targets
    ]
    for p in procs:
        assert p.wait(timeout=60) == 0


@pytest.mark.e2e  # processes of their own
def test_processes_writing_one_key_at_once_leave_one_whole_entry(tmp_path: Path) -> None:
    payloads = [bytes([k]) * 300_000 for k in range(4)]
    start = time.time() + 3.0
    _run_all([("_writer", (str(tmp_path), _key(1), k, start, 10)) for k in range(4)])
    store = Store(tmp_path, MB)
    assert store.get(_key(1)) in payloads
    assert [e.key for e in store.entries()] == [_key(1)]
    assert list((tmp_path / "tmp").iterdir()) == []


@pytest.mark.e2e  # processes of their own
def test_processes_evicting_at_once_keep_the_bound(tmp_path: Path) -> None:
    size = 1000 + store_disk._HEADER
    bound = 10 * size
    start = time.time() + 3.0
    _run_all([("_filler", (str(tmp_path), 100 * k, bound, start)) for k in range(3)])
    store = Store(tmp_path, bound)
    entries = store.entries()
    assert 0 < len(entries) <= 10 and store.used_bytes() <= bound
    for entry in entries:  # each whole: its checksum holds
        assert store.get(entry.key) is not None


def test_files_count_in_the_bound_and_leave_oldest_first(tmp_path: Path) -> None:
    """A file in files/ (a fine-tuned model read by path) is evicted with the objects, by last
    use; a file being written (a dot part) is neither counted nor removed."""
    payload = b"x" * 1000
    size = len(payload) + store_disk._HEADER
    store = Store(tmp_path, int(3.5 * size))
    files = tmp_path / store_disk.FILES
    files.mkdir()
    (files / "trained-old.pt").write_bytes(b"y" * size)
    (files / ".trained-part.pt.0123").write_bytes(b"z" * size)
    os.utime(files / "trained-old.pt", (50, 50))
    for n, mtime in ((1, 100), (2, 200)):
        assert store.put(_key(n), payload)
        os.utime(store.path(_key(n)), (mtime, mtime))
    assert store.used_bytes() == 3 * size  # two objects and the whole file, not the part
    store.put(_key(3), payload)  # four: the oldest, the file, goes first
    assert not (files / "trained-old.pt").exists() and (files / ".trained-part.pt.0123").exists()
    assert {e.key for e in store.entries()} == {_key(1), _key(2), _key(3)}
    (files / "trained-new.pt").write_bytes(b"y" * size)  # used now: the objects are older
    assert store.evict() == [_key(1)]
    assert (files / "trained-new.pt").exists()


def test_store_file_keeps_the_store_within_its_bound(tmp_path: Path, monkeypatch) -> None:
    """Fine-tuned models written for jobs elsewhere count in CNNVIZ_STORE_MB: the newest stays,
    older ones leave once the files outgrow the bound."""
    from cnnviz.store.files import store_file

    monkeypatch.setenv(store_disk.STORE_ENV, str(tmp_path))
    monkeypatch.setenv(store_disk.STORE_MB_ENV, "16")  # the smallest bound
    paths = []
    for n in range(3):
        _, path = store_file("trained", ".pt", bytes([n]) * 6 * MB)
        os.utime(path, (1000 + n, 1000 + n))  # written in this order
        paths.append(path)
    store = store_disk.default_store()
    assert store.used_bytes() <= 16 * MB
    assert [p.exists() for p in paths] == [False, True, True]
