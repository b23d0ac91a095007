"""`python -m cnnviz.server.serve`: heavy modules imported before the server starts, cnnviz.ui
among them (importing it patches nothing: cnnviz.server.install() does, from the launcher)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT


@pytest.mark.e2e  # a real process of its own
def test_warm_imports_the_library_and_cnnviz_ui_without_patching_streamlit() -> None:
    code = (
        "import sys, threading; from cnnviz.server import serve; serve.warm()\n"
        "from streamlit.runtime.app_session import AppSession\n"
        "from streamlit.runtime.pages_manager import PagesManager\n"
        "print('cnnviz.ui.cache' in sys.modules, 'torch' in sys.modules,"
        " 'cnnviz.analysis' in sys.modules,"
        " hasattr(AppSession._create_scriptrunner, '__wrapped__'),"
        " PagesManager.uses_pages_directory,"
        " [t.name for t in threading.enumerate() if t.name.startswith('cnnviz')])\n"
        "import gc; print(gc.get_freeze_count(), len(gc.get_objects()))"
    )
    out = (
        subprocess.run(
            [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
        )
        .stdout.strip()
        .splitlines()
    )
    assert out[0] == "True True True False None []"
    # The warm-up's objects are out of the collector's walks (settle): frozen, and those it
    # still tracks are the few made since.
    frozen, tracked = map(int, out[1].split())
    assert frozen > 100_000 and tracked < frozen / 10


@pytest.mark.e2e  # a real process of its own
def test_freed_heap_memory_goes_back_to_the_system() -> None:
    """What warm_library runs after the models it built are dropped (glibc keeps freed heap
    pages otherwise): measured in a fresh process, from /proc."""
    code = (
        "import numpy as np; from cnnviz.server.serve import release_freed_memory\n"
        "def rss(): return int(open('/proc/self/statm').read().split()[1]) * 4096\n"
        "blocks = [np.ones(100_000 // 8) for _ in range(2000)]\n"  # 200 MB, 100 kB each
        "kept = blocks[::10]\n"  # the freed ones lie between kept ones, not at the heap's top
        "del blocks\n"
        "before = rss(); print(release_freed_memory(), (before - rss()) // 10**6)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert out[0] == "True"
    assert int(out[1]) > 100  # of the 180 MB freed


@pytest.mark.e2e  # a real process of its own
def test_refuses_to_start_when_the_ray_queue_it_was_asked_for_does_not_answer() -> None:
    """CNNVIZ_JOBS=ray://... with nothing there: one line, exit status 1, before serving."""
    import os
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens once closed
    env = {**os.environ, "CNNVIZ_JOBS": f"ray://127.0.0.1:{port}"}
    out = subprocess.run(
        [sys.executable, "-m", "cnnviz.server.serve", "--server.address", "127.0.0.1"],
        cwd=ROOT, capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert out.returncode == 1
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("cnnviz: refusing to start: The job queue's Ray cluster at ray://")
    assert "Uvicorn" not in out.stdout + out.stderr
