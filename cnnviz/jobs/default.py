"""The server process's one runner, with the backend CNNVIZ_JOBS names (threads, or Ray)."""

from __future__ import annotations

import atexit
import threading

from cnnviz.jobs.runner import JobRunner, JobSettings


def _release_stored(args: tuple, kwargs: dict) -> None:
    """A job dropped before it ran: the datasets it names leave the store (an upload at once)."""
    from cnnviz.store import release_datasets  # the store: only once a job is dropped

    release_datasets((args, kwargs))


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
            _default = JobRunner(settings, backend=backend, on_drop=_release_stored)
            atexit.register(_default.shutdown)
        return _default
