"""The server process's one runner, with the backend CNNVIZ_JOBS names (threads, or Ray)."""

from __future__ import annotations

import atexit
import threading

from cnnviz.jobs.runner import JobRunner, JobSettings

_default: JobRunner | None = None
_default_lock = threading.Lock()


def default_runner() -> JobRunner:
    """The process's one runner (every session's jobs queue on the same devices; with Ray,
    every process's)."""
    global _default
    with _default_lock:
        if _default is None:
            settings = JobSettings.from_env()
            backend = None
            if settings.backend != "threads":
                from cnnviz.jobs.ray_backend import RayBackend  # Ray only where it is asked for

                backend = RayBackend(settings)
            _default = JobRunner(settings, backend=backend)
            atexit.register(_default.shutdown)
        return _default
