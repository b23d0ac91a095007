"""What a page holds of a job: its states, the progress snapshot it draws, the reporter the job
function calls, and the handle that ties them to one job of one runner.

A job function is a plain function of picklable arguments that returns a picklable result and
takes one more keyword argument, `report`:

    def train(data, epochs, *, report: Reporter) -> dict:
        for epoch in range(epochs):
            for batch in ...:
                ...
                report(step=done, total=total, message=f"epoch {epoch + 1}")
            report(metrics={"epoch": epoch + 1, "val_accuracy": acc})
        return {"accuracy": acc}

`report(...)` records progress and is also where a stop takes effect: once `stop()` was asked
for, the next call raises `Stopped`, so a function that reports every batch stops within a
batch. `Stopped` derives from BaseException (like KeyboardInterrupt), so a training loop's
`except Exception` does not swallow it; `try/finally` still runs. A function that wants to keep
what it has (the model trained so far) may catch it and return early: the job then ends STOPPED
with that partial result. A function that never calls `report` cannot be stopped once it runs
(threads cannot be killed safely); `stop()` only cancels it while it is still queued.
"""

from __future__ import annotations

import enum
import threading
from dataclasses import dataclass, field
from typing import Any, Protocol

from cnnviz.errors import JobStopped


class JobState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    STOPPED = "stopped"
    FAILED = "failed"

    @property
    def finished(self) -> bool:
        return self in (JobState.DONE, JobState.STOPPED, JobState.FAILED)


class Stopped(BaseException):  # a signal like KeyboardInterrupt, not an error
    """Raised by `report(...)` inside a job function once a stop was requested."""


class Reporter(Protocol):
    """The callback a job function receives as `report` (any backend provides one)."""

    device: str  # the torch device the job was given, "cuda:0" or "cpu"

    def __call__(
        self,
        *,
        step: int | None = None,
        total: int | None = None,
        metrics: dict[str, Any] | None = None,
        message: str | None = None,
    ) -> None: ...

    @property
    def stop_requested(self) -> bool: ...


@dataclass(frozen=True)
class Progress:
    """One consistent snapshot of a job, plain values only (picklable, safe to keep).

    `metrics` is the whole history, one dict per `report(metrics=...)` call, oldest first: a
    later snapshot's history starts with an earlier one's. `elapsed` counts from the start of
    the run (0 while queued); `eta` is the remaining seconds extrapolated from step/total (None
    while unknown). `position` is 1 for the next job to start on its device (None unless
    queued); `wait` the estimated seconds until it starts (None when unknown).
    """

    state: JobState
    step: int
    total: int | None
    metrics: list[dict[str, Any]]
    message: str
    elapsed: float
    eta: float | None
    position: int | None = None
    wait: float | None = None
    error: str | None = None
    device: str = "cpu"

    @property
    def fraction(self) -> float | None:
        """step/total in [0, 1] for a progress bar, None without a total."""
        if not self.total:
            return None
        return min(max(self.step / self.total, 0.0), 1.0)


@dataclass(eq=False)
class Job:
    """The runner's record of one job: written by the worker and the runner under the runner's
    lock, read by handles under the same lock. Never handed to a page directly."""

    id: str
    session: str  # the owner: a browser's key (every tab of one browser shares it)
    device: str
    fn: Any
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    lock: threading.Lock
    submitted_at: float
    estimate: float | None = None
    tag: str = ""  # which of the owner's jobs this is to a page ("transfer_learning_job")
    lane: str = ""  # "": the device's queue; else a queue of its own (see JobRunner.submit)
    state: JobState = JobState.QUEUED
    step: int = 0
    total: int | None = None
    metrics: list[dict[str, Any]] = field(default_factory=list)
    message: str = ""
    started_at: float | None = None
    ended_at: float | None = None
    touched_at: float = 0.0
    value: Any = None
    has_value: bool = False
    error: BaseException | None = None
    error_text: str | None = None
    stop_event: threading.Event = field(default_factory=threading.Event)
    ended: threading.Event = field(default_factory=threading.Event)
    # Where a backend that queues jobs itself (Ray: one queue for every server process) last
    # saw the job in its queue: position (1 = next) and estimated wait; unused by threads.
    position: int | None = None
    wait: float | None = None

    @property
    def queue(self) -> str:
        """The key of the queue (and slots) the job waits in: its device's, or its lane's."""
        return f"lane:{self.lane}" if self.lane else self.device

    def elapsed(self, now: float) -> float:
        if self.started_at is None:
            return 0.0
        return (self.ended_at if self.ended_at is not None else now) - self.started_at

    def eta(self, now: float) -> float | None:
        """Remaining seconds: linear in steps from the time spent so far."""
        if self.state.finished:
            return 0.0
        if self.state is not JobState.RUNNING or not self.total or self.step <= 0:
            return None
        return max(self.elapsed(now) / self.step * (self.total - self.step), 0.0)


class ThreadReporter:
    """The local backend's `report`: one lock round trip and a flag test per call."""

    def __init__(self, job: Job) -> None:
        self._job = job
        self.device = job.device

    @property
    def stop_requested(self) -> bool:
        return self._job.stop_event.is_set()

    def __call__(
        self,
        *,
        step: int | None = None,
        total: int | None = None,
        metrics: dict[str, Any] | None = None,
        message: str | None = None,
    ) -> None:
        job = self._job
        with job.lock:
            if step is not None:
                job.step = int(step)
            if total is not None:
                job.total = int(total)
            if metrics is not None:
                job.metrics.append(dict(metrics))  # a copy: the caller may reuse its dict
            if message is not None:
                job.message = str(message)
        if job.stop_event.is_set():
            raise Stopped


class Keeper(Protocol):
    """What a handle asks of the runner that keeps its job (`cnnviz.jobs.runner.JobRunner`):
    the runner builds on this module, so the handle names only these four."""

    def place(self, job: Job) -> tuple[int | None, float | None]: ...

    def snapshot(self, job: Job) -> Progress: ...

    def stop(self, job: Job) -> None: ...

    def touch(self, job: Job) -> None: ...


class JobHandle:
    """A page's view of one job: cheap to create (the runner makes one per lookup)."""

    def __init__(self, runner: Keeper, job: Job) -> None:
        self._runner = runner
        self._job = job

    @property
    def id(self) -> str:
        return self._job.id

    @property
    def session(self) -> str:
        return self._job.session

    @property
    def device(self) -> str:
        return self._job.device

    @property
    def tag(self) -> str:
        """Which of its owner's jobs this is to a page (`JobRunner.latest`)."""
        with self._job.lock:
            return self._job.tag

    @tag.setter
    def tag(self, value: str) -> None:
        with self._job.lock:
            self._job.tag = value

    @property
    def state(self) -> JobState:
        with self._job.lock:
            return self._job.state

    @property
    def error(self) -> str | None:
        """The failed job's error as one line (None unless failed)."""
        with self._job.lock:
            return self._job.error_text

    @property
    def position(self) -> int | None:
        """1 for the next queued job on its device, None unless queued."""
        return self._runner.place(self._job)[0]

    @property
    def wait(self) -> float | None:
        """Estimated seconds until a queued job starts (0 once started, None when unknown)."""
        return self._runner.place(self._job)[1]

    def progress(self) -> Progress:
        return self._runner.snapshot(self._job)

    def stop(self) -> None:
        """Ask the job to stop: a queued job is cancelled at once, a running one stops at its
        next `report(...)`; a finished one is left as it is."""
        self._runner.stop(self._job)

    def done(self, timeout: float | None = None) -> bool:
        """Whether the job has finished (waiting up to `timeout` seconds for it)."""
        return self._job.ended.wait(timeout)

    def result(self, timeout: float | None = None) -> Any:
        """The job's return value, waiting up to `timeout` seconds (TimeoutError after).

        A failed job raises its own error; a stopped one raises JobStopped, unless the
        function caught Stopped and returned a partial result, which is returned.
        """
        if not self._job.ended.wait(timeout):
            raise TimeoutError(f"job {self.id} has not finished after {timeout} s")
        self._runner.touch(self._job)
        job = self._job
        with job.lock:
            if job.state is JobState.FAILED and job.error is not None:
                raise job.error
            if job.state is JobState.STOPPED and not job.has_value:
                raise JobStopped("The job was stopped before it finished.")
            return job.value

    def __repr__(self) -> str:
        return f"JobHandle({self.id!r}, {self.state.value}, device={self.device!r})"
