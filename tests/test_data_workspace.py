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

from cnnviz.data import Workspace


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
