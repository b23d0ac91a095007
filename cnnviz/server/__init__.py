"""The server's runtime: everything that changes how Streamlit serves cnnviz to a class.

`access` (the class code, the per-browser secret), `gate` (the ASGI middleware that asks for
the code), `serve` (the launcher and its warm-up) and one module per patch of a Streamlit or
Starlette internal live here, and nowhere else: `cnnviz.ui` uses public `st.*` only, and
importing it changes nothing in Streamlit.

Each patch module says what it fixes, the upstream source it relies on, and the versions it
was checked on (`CHECKED = {"streamlit": "1.67"}`: the X.Y series requirements.txt pins);
tests/test_server_<patch>.py fails when the patched internal changes shape.

`install()` applies them, once per process: the launcher calls it before `streamlit run`
(with the class code, for the gate), app.py calls it on every run (then it does nothing) so
that a plain `streamlit run app.py` and AppTest get the same runtime. A patch that cannot be
applied, or whose library is not the version it was checked on, prints one line naming it at
start, on stderr: never silently.
"""

from __future__ import annotations

import importlib
import sys
import threading
from collections.abc import Callable, Mapping
from importlib import metadata
from types import ModuleType
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from cnnviz.server.access import ClassCode

# Applied in this order (sweeper and script_run replace nothing: they check the internals they
# read); the gate goes last (the outermost middleware, in front of static_files' FrontDoor),
# by the launcher only: it needs the class code.
PATCHES = ("routing", "direct_run_check", "fragment_race", "static_files", "sweeper", "script_run")
GATE = "gate"
ALL = (*PATCHES, GATE)

_lock = threading.Lock()
_results: dict[str, bool] = {}


def installed_version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def version_problems(
    checked: Mapping[str, str], version: Callable[[str], str | None] = installed_version
) -> list[str]:
    """`dist X.Y.Z, checked on A.B` for each library whose installed version is not of the
    series the patch was checked on (empty: all match)."""
    problems = []
    for dist, series in checked.items():
        found = version(dist)
        if found is None or (found != series and not found.startswith(series + ".")):
            problems.append(f"{dist} {found or 'missing'}, checked on {series}")
    return problems


def patch_module(name: str) -> ModuleType:
    return importlib.import_module(f"{__name__}.{name}")


def _apply(
    name: str,
    apply: Callable[[], bool],
    out: TextIO,
    version: Callable[[str], str | None],
) -> bool:
    """Apply one patch; one loud line when it fails or its library's version differs."""
    module = patch_module(name)
    problems = version_problems(module.CHECKED, version)
    try:
        ok = bool(apply())
        why = "" if ok else "the internal it patches is not there"
    except Exception as err:  # a changed internal: say which patch, carry on without it
        ok, why = False, f"{type(err).__name__}: {err}"
    if not ok:
        line = f"NOT INSTALLED ({why}; {'; '.join(problems) or 'versions as checked'})"
    elif problems:
        line = f"installed on an unchecked version ({'; '.join(problems)})"
    else:
        return True
    print(
        f"cnnviz: WARNING: server patch {name} (cnnviz/server/{name}.py) {line}: "
        f"see tests/test_server_{name}.py and requirements.txt",
        file=out,
        flush=True,
    )
    return ok


def install(
    code: ClassCode | None = None,
    *,
    out: TextIO | None = None,
    version: Callable[[str], str | None] = installed_version,
) -> dict[str, bool]:
    """Apply every patch once per process (later calls return the first call's outcome): the
    name of each patch -> whether it is installed. With `code` (the launcher), the class-code
    gate too, last; its outcome under "gate" (the launcher refuses to start without it where
    the code is required)."""
    out = out or sys.stderr
    with _lock:
        if not _results:
            for name in PATCHES:
                _results[name] = _apply(name, patch_module(name).install, out, version)
        if code is not None and GATE not in _results:
            gate = patch_module(GATE)
            _results[GATE] = _apply(GATE, lambda: gate.install(code), out, version)
        return dict(_results)
