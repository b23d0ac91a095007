"""`python -m cnnviz.ui.serve`: heavy modules imported before the server starts, cnnviz.ui not
(its routing set-up must run at a page's first import, inside a script run)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT


@pytest.mark.e2e  # a real process of its own
def test_warm_imports_the_library_and_leaves_cnnviz_ui_to_the_first_page() -> None:
    code = (
        "import sys; from cnnviz.ui import serve; serve.warm(); "
        "print(sorted(m for m in sys.modules if m.startswith('cnnviz.ui')), "
        "'torch' in sys.modules, 'cnnviz.analysis' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    # serve itself stays when imported by name; under -m it runs as __main__
    assert out.strip() == "['cnnviz.ui.serve'] True True"


@pytest.mark.e2e  # a real process of its own
def test_freed_heap_memory_goes_back_to_the_system() -> None:
    """What warm_library runs after the models it built are dropped (glibc keeps freed heap
    pages otherwise): measured in a fresh process, from /proc."""
    code = (
        "import numpy as np; from cnnviz.ui.serve import release_freed_memory\n"
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
