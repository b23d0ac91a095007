"""Start the app with its heavy libraries already imported: `python -m cnnviz.ui.serve [ARGS]`
runs `streamlit run app.py [ARGS]` in this process after importing torch, torchvision,
pandas, plotly and the cnnviz library, so the first student of the day does not wait for
those imports (about 3.5 s on 2 cores).
"""

from __future__ import annotations

import importlib
import sys

# The library and what it pulls in; cnnviz.ui itself is imported again by the first page, so
# its one-time routing set-up (cnnviz/ui/__init__.py) runs inside a script run as it must.
WARM = (
    "torch",
    "torchvision",
    "torchinfo",
    "pandas",
    "plotly.graph_objects",
    "plotly.subplots",
    "skimage.data",
    "cnnviz.analysis",
    "cnnviz.receptive_field",
    "cnnviz.receptive_field.effective",
    "cnnviz.plots.architecture",
    "cnnviz.plots.ilsvrc",
    "cnnviz.plots.modules",
    "cnnviz.plots.receptive_field",
    "cnnviz.quiz",
    "cnnviz.layer_table",
)


def warm() -> None:
    """Import the heavy modules, then forget cnnviz.ui so the first page imports it afresh."""
    for name in WARM:
        importlib.import_module(name)
    for name in [m for m in sys.modules if m == "cnnviz.ui" or m.startswith("cnnviz.ui.")]:
        if name != __name__:
            del sys.modules[name]


def command(port: int, address: str = "127.0.0.1") -> list[str]:
    """The command line of a test or benchmark server: this launcher (as `make run` starts the
    app), headless, on `address:port`, without usage statistics or a file watcher."""
    return [
        sys.executable,
        "-m",
        "cnnviz.ui.serve",
        "--server.port",
        str(port),
        "--server.address",
        address,
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
    ]


def main(argv: list[str]) -> None:
    warm()
    from streamlit.web import cli

    sys.argv = ["streamlit", "run", "app.py", *argv]
    cli.main(prog_name="streamlit")


if __name__ == "__main__":
    main(sys.argv[1:])
