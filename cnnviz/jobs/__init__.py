"""Long work off the script thread: submit a job function, draw its progress, stop it, get
its result; one runner per server, jobs per session, queued per device.

    from cnnviz.jobs import default_runner
    handle = default_runner().submit(train, data, session=sid, epochs=5)
    handle.progress()  # Progress(state, step, total, metrics, message, elapsed, eta, ...)
    handle.stop(); handle.result(timeout=10)

See `cnnviz.jobs.handle` for how a job function reports and stops.
"""

from cnnviz.jobs.default import default_runner
from cnnviz.jobs.devices import Device
from cnnviz.jobs.handle import JobHandle, JobState, Progress, Reporter, Stopped
from cnnviz.jobs.runner import (
    Backend,
    JobRunner,
    JobSettings,
    Outcome,
    ThreadBackend,
)

__all__ = [
    "Backend",
    "Device",
    "JobHandle",
    "JobRunner",
    "JobSettings",
    "JobState",
    "Outcome",
    "Progress",
    "Reporter",
    "Stopped",
    "ThreadBackend",
    "default_runner",
]
