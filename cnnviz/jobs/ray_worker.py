"""Jobs on Ray, inside the worker: a job's reports to the class's queue actor, and the job
run as a Ray task (`execute`), its result or its failure for both sides
(`cnnviz.jobs.ray_backend` says how the pieces fit)."""

from __future__ import annotations

import logging
import time
import traceback
from typing import Any

from cnnviz.errors import JobResultTooLarge
from cnnviz.jobs.handle import Stopped
from cnnviz.jobs.runner import error_text

log = logging.getLogger(__name__)

REPORT_S = 0.2  # a running job sends its progress at most this often (metrics at once)
MAX_PENDING_REPORTS = 8  # reports a job sends ahead of the actor's answers before it waits


class RemoteReporter:
    """A Ray job's `report`: progress to the queue actor at most every REPORT_S seconds (metrics
    at once), without waiting for the actor's answer (a busy server must not hold the job up);
    the stop flag from the answers that have come back by the next report."""

    def __init__(self, queue: Any, job_id: str, device: str) -> None:
        self._queue = queue
        self._job_id = job_id
        self.device = device
        self._step: int | None = None
        self._total: int | None = None
        self._message: str | None = None
        self._metrics: list[dict[str, Any]] = []
        self._sent_at = 0.0
        self._stop = False
        self._pending: list[Any] = []  # reports sent, their answers not read yet

    @property
    def stop_requested(self) -> bool:
        return self._stop

    def __call__(
        self,
        *,
        step: int | None = None,
        total: int | None = None,
        metrics: dict[str, Any] | None = None,
        message: str | None = None,
    ) -> None:
        if step is not None:
            self._step = int(step)
        if total is not None:
            self._total = int(total)
        if message is not None:
            self._message = str(message)
        if metrics is not None:
            self._metrics.append(dict(metrics))
        if metrics is not None or time.monotonic() - self._sent_at >= REPORT_S:
            self.flush()
        if self._stop:
            raise Stopped

    def flush(self, *, wait: bool = False) -> None:
        """Send what is new (the actor takes one caller's calls in order); read the answers
        that have come back, or all of them with `wait` (at the job's end)."""
        import ray

        metrics, self._metrics = self._metrics, []
        self._pending.append(
            self._queue.report.remote(self._job_id, self._step, self._total, metrics, self._message)
        )
        self._sent_at = time.monotonic()
        if wait or len(self._pending) > MAX_PENDING_REPORTS:
            answers, self._pending = ray.get(self._pending), []
        else:
            ready, self._pending = ray.wait(
                self._pending, num_returns=len(self._pending), timeout=0
            )
            answers = ray.get(ready)
        self._stop = self._stop or any(answers)


def execute(
    payload: tuple, job_id: str, queue: Any, device: str, threads: int | None, limit: int
) -> tuple[tuple[str, str | None], tuple[str, Any]]:
    """One job in a Ray worker: (kind, error text) for the queue, (kind, value) for the
    process that submitted it (the value pickled when done); kind is "done", "stopped" or
    "failed"."""
    from ray import cloudpickle

    fn, args, kwargs = payload
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    report = RemoteReporter(queue, job_id, device)
    try:
        value = fn(*args, report=report, **kwargs)
        report.flush(wait=True)
    except (Stopped, KeyboardInterrupt):  # KeyboardInterrupt: ray.cancel
        return ("stopped", None), ("stopped", None)
    except BaseException as err:
        return failed(err)
    # Pickled once, here: its size is checked on the bytes that travel (Ray pickling the value
    # again for its return would cost as much again: a state dict's tensors are copied).
    blob = cloudpickle.dumps(value)
    size = len(blob)
    if size > limit:
        return failed(
            JobResultTooLarge(
                f"This job's result is {size / 2**20:.0f} MB: the server takes at most "
                f"{limit / 2**20:.0f} MB back from a job."
            )
        )
    return ("done", None), ("done", blob)


def failed(err: BaseException) -> tuple[tuple[str, str], tuple[str, BaseException]]:
    """A failure for both sides: the traceback logged in the worker, the error without it."""
    from ray import cloudpickle

    text = error_text(err)
    log.error("job failed:\n%s", "".join(traceback.format_exception(err)))
    err.__traceback__ = None
    try:
        cloudpickle.loads(cloudpickle.dumps(err))
    except Exception:  # an error that does not travel: its sentence does
        err = RuntimeError(text)
    return ("failed", text), ("failed", err)
