"""`python -m cnnviz.ui.serve`: heavy modules imported before the server starts, cnnviz.ui not
(its routing set-up must run at a page's first import, inside a script run)."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT


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
