"""The per-session temporary folder: under tempfile's folder, prefixed cnnviz-, removed on
close, by a with block, when collected, and at interpreter exit."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from cnnviz.data import Workspace, limits
from cnnviz.data.workspace import DISK_ENV, session_disk_bytes
from cnnviz.errors import OutOfBounds, SessionDiskFull


@pytest.fixture
def temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


def test_close_removes_everything(temp: Path) -> None:
    space = Workspace()
    assert space.path.parent == temp and space.path.name.startswith("cnnviz-")
    sub = space.folder("zip")
    (sub / "a").mkdir()
    (sub / "a" / "b.png").write_bytes(b"x")
    assert sub.parent == space.path and space.folder("zip") != sub
    space.close()
    assert space.closed and not any(temp.iterdir())
    space.close()  # again: nothing to do
    with pytest.raises(RuntimeError):
        space.folder()


def test_with_block_and_garbage_collection(temp: Path) -> None:
    with Workspace() as space:
        (space.path / "x").write_bytes(b"x")
    assert not any(temp.iterdir())
    space = Workspace()
    del space
    gc.collect()
    assert not any(temp.iterdir())


@pytest.mark.e2e  # a real process of its own
def test_removed_at_exit(tmp_path: Path) -> None:
    code = (
        "from cnnviz.data import Workspace\n"
        "space = Workspace()\n"
        "(space.path / 'left.png').write_bytes(b'x')\n"
        "print(space.path)\n"
        "import sys; sys.modules['keep'] = space\n"  # still referenced at exit
    )
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=root, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()).parent == tmp_path
    assert not any(tmp_path.iterdir())


# --- files a session keeps, and the bound on its folder --------------------------------------
def test_store_keep_only_and_remove(temp: Path) -> None:
    with Workspace(max_bytes=1_000) as space:
        first = space.store("weights", b"a" * 100, "state_dict.pt")
        second = space.store("weights", b"b" * 200, "state_dict.pt")
        other = space.store("zip", b"c" * 10, "x.zip")
        assert first != second and first.read_bytes() == b"a" * 100
        assert (
            space.used_bytes()
            == 310
            == sum(f.stat().st_size for f in space.path.rglob("*") if f.is_file())
        )
        space.keep_only("weights", [second])  # the previous upload goes, others stay
        assert not first.parent.exists() and second.is_file() and other.is_file()
        space.remove(second)
        assert not second.parent.exists() and space.used_bytes() == 10
        space.remove(temp / "elsewhere" / "file")  # outside the folder: left alone
        space.keep_only("weights")
        assert sorted(p.name for p in space.path.iterdir()) == [other.parent.name]


def test_a_file_past_the_bound_is_refused_and_nothing_is_written(temp: Path) -> None:
    with Workspace(max_bytes=1_000) as space:
        space.store("weights", b"a" * 600, "state_dict.pt")
        before = sorted(space.path.rglob("*"))
        with pytest.raises(SessionDiskFull) as info:
            space.store("weights", b"b" * 401, "state_dict.pt")
        assert "does not fit in your folder on the server" in str(info.value)
        assert "CNNVIZ_SESSION_DISK_MB" in info.value.hint
        assert sorted(space.path.rglob("*")) == before and space.used_bytes() == 600
        assert space.store("weights", b"b" * 400, "state_dict.pt").is_file()  # exactly full


def test_the_bound_is_the_teachers_setting(temp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DISK_ENV, raising=False)
    assert session_disk_bytes() == limits.SESSION_DISK_MB.high * 2**20 == Workspace().max_bytes
    # One largest upload and a dataset's archive fit at the default.
    assert (
        limits.SESSION_DISK_MB.high
        >= limits.UPLOAD_MB.high + limits.DATASET_ARCHIVE_BYTES.high / 2**20
    )
    monkeypatch.setenv(DISK_ENV, "3")
    assert Workspace().max_bytes == 3 * 2**20
    for bad in ("lots", "0", "-1", "1.5"):
        with pytest.raises(OutOfBounds, match=DISK_ENV):
            session_disk_bytes({DISK_ENV: bad})
