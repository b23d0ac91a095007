"""Start the app with its heavy libraries already imported: `python -m cnnviz.server.serve
[ARGS]` runs `streamlit run app.py [ARGS]` in this process after importing torch,
torchvision, pandas, plotly and the cnnviz library (its pages' `cnnviz.ui` included), so the
first student of the day does not wait for those imports (seconds on a small server), and after
applying the server's patches (`cnnviz.server.install`, the class-code gate included).
"""

from __future__ import annotations

import gc
import importlib
import socket
import sys

from cnnviz import server
from cnnviz.server import access

# The library and what it pulls in; importing cnnviz.ui changes nothing in Streamlit.
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
    "cnnviz.ui",
    "cnnviz.ui.cache",
    "cnnviz.ui.navigation",
)


# The receptive-field page's default model: its first visit builds it and runs it backwards.
WARM_MODELS = ("resnet18",)


def warm() -> None:
    """Import the heavy modules, fill the library's caches, then set what they made aside
    from the garbage collector (settle)."""
    for name in WARM:
        importlib.import_module(name)
    warm_library()
    settle()


def settle() -> int:
    """Collect, then freeze what is left: the modules, classes and cached models of the
    warm-up live all day, and a full collection (Python's generation 2, run whenever the
    objects made since the last one reach a quarter of those it has seen) would otherwise
    walk every one of them again, in whichever student's click it falls on (its cost: the
    README's performance section, bench/feature_cache.py).
    Objects made after this are collected as before; a frozen object dropped later is freed
    by its reference count, unless it sits in a reference cycle: at most the warm-up's own
    size, once. How many objects were frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def warm_library() -> None:
    """Fill the library's own caches that a first page would otherwise wait for: the built-in
    photos (the first decode imports scikit-image's io), the
    default models with their seeded weights (weight initialization) and one small backward
    pass through each (PyTorch's first convolutions set up their kernels), the effective fields
    of the receptive-field page's defaults (`cnnviz.receptive_field.ahead`)."""
    import torch

    from cnnviz import images
    from cnnviz.receptive_field import ahead
    from cnnviz.receptive_field.effective import effective_field_of

    for name in images.PHOTOS:
        images.photo(name)
    for name in WARM_MODELS:
        effective_field_of(name, "layer1", (0, 0), torch.zeros(1, 3, 64, 64))
    # Every layer of the page's default model on its default photo and the first view of the
    # models cheap to build: a student's first look at a layer, or at one of those models,
    # looks it up instead of waiting for it.
    ahead.compute_plan()
    release_freed_memory()


def release_freed_memory() -> bool:
    """Hand the memory of the models built and dropped above back to the system: glibc keeps
    freed heap pages for the process (the plan's models leave a good part of them; the server
    would carry them all day). False where the C library has no malloc_trim."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.malloc_trim(0))
    except (OSError, AttributeError):
        return False


def command(port: int, address: str = "127.0.0.1") -> list[str]:
    """The command line of a test or benchmark server: this launcher (as `make run` starts the
    app), headless, on `address:port`, without usage statistics or a file watcher."""
    return [
        sys.executable,
        "-m",
        "cnnviz.server.serve",
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


def option(argv: list[str], name: str) -> str | None:
    """The value of `--name VALUE` or `--name=VALUE` in a command line, else None."""
    for i, arg in enumerate(argv):
        if arg == name and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def class_code(argv: list[str]) -> access.ClassCode:
    """The class code for this server (see cnnviz.server.access): the environment's, or a
    generated one when it listens on more than loopback (Streamlit's default is every
    interface), and the line saying which, printed at start."""
    address = option(argv, "--server.address") or ""
    code = access.class_code(address)
    host = socket.gethostname() if address in ("", "0.0.0.0", "::") else address
    # On loopback with a code, students come through a proxy whose address this process
    # does not know (deploy/run_multi.py prints it).
    url = (
        None
        if access.is_loopback(address)
        else f"http://{host}:{option(argv, '--server.port') or 8501}"
    )
    print(code.banner(url), flush=True)
    return code


def join_job_queue() -> None:
    """With CNNVIZ_JOBS=ray or ray://..., join the class's job queue before serving anyone, or
    refuse to start (one line): a class promised one queue per GPU must not get one per
    process (cnnviz/jobs/ray_backend.py)."""
    from cnnviz.errors import JobQueueUnreachable
    from cnnviz.jobs import JobSettings, default_runner

    try:
        settings = JobSettings.from_env()
    except ValueError as err:
        sys.exit(f"cnnviz: {err}")
    if settings.backend == "threads":
        return
    try:
        runner = default_runner()
    except ImportError:
        sys.exit(
            f"cnnviz: CNNVIZ_JOBS={settings.backend} needs Ray: "
            ".venv/bin/pip install -r requirements-ray.txt (make run-multi does)."
        )
    except JobQueueUnreachable as err:
        sys.exit(f"cnnviz: refusing to start: {err.one_line()}")
    slots = ", ".join(f"{k} {v}" for k, v in runner.backend_slots().items())
    print(f"cnnviz: jobs on Ray ({settings.backend}), one queue per device: {slots}", flush=True)


def main(argv: list[str]) -> None:
    try:
        code = class_code(argv)
    except ValueError as err:
        sys.exit(f"cnnviz: {err}")
    join_job_queue()
    warm()
    installed = server.install(code)  # one loud line for each patch that is not as checked
    if not installed[server.GATE]:
        if code.required:
            sys.exit(
                "cnnviz: cannot put the class-code gate in front of this Streamlit version's "
                "server (cnnviz/server/gate.py's patch): refusing to start on a network "
                "without it. Use the Streamlit version in requirements.txt."
            )
        print("cnnviz: no gate (cnnviz/server/gate.py): a job belongs to its tab only.")
    from streamlit.web import cli

    sys.argv = ["streamlit", "run", "app.py", *argv]
    cli.main(prog_name="streamlit")


if __name__ == "__main__":
    main(sys.argv[1:])
