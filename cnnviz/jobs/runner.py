"""The job runner: one per server process, shared by every session, with at most
`per_device` jobs running on each device and the others queued first come, first served.

The runner does the bookkeeping (queues, slots, per-session lookup, idle cleanup); a Backend
does the running. `ThreadBackend` runs each job in a daemon thread of this process; a later
backend can run the same job functions elsewhere (a Ray cluster) behind the same interface,
since a job is only `fn(*args, report=..., **kwargs)` of picklable values.

Worker threads never call streamlit: they write into the job's record under the runner's lock,
and the page reads snapshots (`JobHandle.progress()`) from its own script thread.
"""

from __future__ import annotations

import heapq
import logging
import os
import secrets
import threading
import time
import traceback
import weakref
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from cnnviz.errors import CnnvizError, JobNotFound, TooManyJobs
from cnnviz.jobs import devices
from cnnviz.jobs.handle import Job, JobHandle, JobState, Progress, Reporter, Stopped
from cnnviz.jobs.handle import ThreadReporter as _ThreadReporter

Clock = Callable[[], float]
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobSettings:
    """What a teacher may change for a class (defaults suit one GPU or 2 CPU cores)."""

    per_device: int = 1  # jobs running at once on one device; the others queue
    idle_seconds: float = 30 * 60  # a finished job's result is freed this long after its last visit
    per_session: int = 2  # queued + running jobs one session may have at once
    # torch threads of a CPU job: half the cores, so the other half keeps the class's reruns
    # quick (on 2 busy cores two training threads ran several times slower than one: they
    # contend).
    cpu_threads: int = max(1, (os.cpu_count() or 2) // 2)
    # Where jobs run: "threads" (this process), "ray" (the local Ray instance: joined when one
    # runs, else started) or "ray://HOST:PORT" (a Ray cluster); see cnnviz.jobs.ray_backend.
    backend: str = "threads"
    # The largest result a Ray job may send back, in MB (a fine-tuned ResNet-50 is about 100).
    result_mb: float = 512.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> JobSettings:
        """Defaults, overridden by CNNVIZ_JOBS_PER_DEVICE, CNNVIZ_JOBS_IDLE_SECONDS,
        CNNVIZ_JOBS_PER_SESSION, CNNVIZ_JOBS_CPU_THREADS, CNNVIZ_JOBS (the backend) and
        CNNVIZ_JOBS_RESULT_MB (how a teacher sets them for `make run`)."""
        base = cls()
        settings = cls(
            per_device=int(environ.get("CNNVIZ_JOBS_PER_DEVICE", base.per_device)),
            idle_seconds=float(environ.get("CNNVIZ_JOBS_IDLE_SECONDS", base.idle_seconds)),
            per_session=int(environ.get("CNNVIZ_JOBS_PER_SESSION", base.per_session)),
            cpu_threads=int(environ.get("CNNVIZ_JOBS_CPU_THREADS", base.cpu_threads)),
            backend=environ.get("CNNVIZ_JOBS", base.backend).strip() or base.backend,
            result_mb=float(environ.get("CNNVIZ_JOBS_RESULT_MB", base.result_mb)),
        )
        if (
            min(settings.per_device, settings.per_session, settings.cpu_threads) < 1
            or settings.idle_seconds < 0
            or settings.result_mb <= 0
            or not (settings.backend in ("threads", "ray") or settings.backend.startswith("ray://"))
        ):
            raise ValueError(f"job settings out of range: {settings}")
        return settings


@dataclass(frozen=True)
class Outcome:
    """How a job function ended: returned `value`, raised `error`, or raised Stopped."""

    value: Any = None
    error: BaseException | None = None
    stopped: bool = False


class Backend(Protocol):
    """Runs one job the runner has given a slot: calls `job.fn(*job.args, report=report,
    **job.kwargs)` somewhere and, once it ends, `done(outcome)` exactly once (from any thread).

    A backend whose `queues` attribute is true keeps the queue itself (Ray: one queue per
    device for every server process, `cnnviz.jobs.ray_backend`): the runner hands it every job
    at once, the backend sets the job RUNNING when its queue starts it (and its `position` and
    `wait` while it waits), and the runner's `stop` of a queued job calls `cancel(job)`.
    """

    def reporter(self, job: Job) -> Reporter: ...

    def start(self, job: Job, report: Reporter, done: Callable[[Outcome], None]) -> None: ...


class ThreadBackend:
    """Each job in a daemon thread of this process (daemon: a job that never reports must not
    keep the server from exiting). A CPU job's thread uses `cpu_threads` torch threads (None:
    torch's default); torch's thread count is per thread, so the server's own is untouched."""

    def __init__(self, cpu_threads: int | None = None) -> None:
        self.cpu_threads = cpu_threads
        self._threads: weakref.WeakSet[threading.Thread] = weakref.WeakSet()

    def reporter(self, job: Job) -> Reporter:
        return _ThreadReporter(job)

    def join(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for the job threads to end; whether they all did."""
        deadline = time.monotonic() + timeout
        for thread in list(self._threads):
            thread.join(max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in list(self._threads))

    def start(self, job: Job, report: Reporter, done: Callable[[Outcome], None]) -> None:
        thread = threading.Thread(
            target=_run,
            args=(job, report, done, self.cpu_threads if job.device == "cpu" else None),
            name=f"cnnviz-job-{job.device}",
            daemon=True,
        )
        self._threads.add(thread)
        thread.start()


def _run(
    job: Job, report: Reporter, done: Callable[[Outcome], None], threads: int | None = None
) -> None:
    if threads is not None:
        import torch  # only where a job runs: the runner itself needs no torch

        torch.set_num_threads(threads)
    try:
        value = job.fn(*job.args, report=report, **job.kwargs)
    except Stopped:
        done(Outcome(stopped=True))
    except BaseException as err:  # a job's failure is its own: the runner carries on
        done(Outcome(error=err))
    else:
        done(Outcome(value=value))


def _without_frames(err: BaseException, job: Job) -> BaseException:
    """Log the traceback for the teacher, then drop it: its frames hold the job's locals (a
    dataset, a model) that would otherwise stay in memory until the job is freed."""
    # As text: a LogRecord's exc_info would keep the frames alive in any handler that keeps it.
    trace = "".join(traceback.format_exception(err))
    log.error("job %s (%s) failed:\n%s", job.id[:6], _name(job.fn), trace)
    seen: set[int] = set()
    link: BaseException | None = err
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        link.__traceback__ = None
        link = link.__cause__ or link.__context__
    return err


def error_text(err: BaseException) -> str:
    """One line for a failed job: a student's error as its sentence, anything else by type."""
    if isinstance(err, CnnvizError):
        return err.one_line()
    text = str(err)
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


class JobRunner:
    """Submit, look up, stop and free jobs; every method is safe from any thread."""

    def __init__(
        self,
        settings: JobSettings | None = None,
        *,
        backend: Backend | None = None,
        clock: Clock = time.monotonic,
        on_drop: Callable[[tuple[Any, ...], dict[str, Any]], object] | None = None,
    ) -> None:
        """`on_drop(args, kwargs)`: called with the inputs of a job that leaves the queue
        without running (stopped, or its browser gone), to free what they hold outside the
        process (the server's runner releases the datasets they name from the store)."""
        self.settings = settings or JobSettings()
        self._on_drop = on_drop
        if self.settings.per_device < 1:
            raise ValueError("per_device must be at least 1")
        self._backend = backend or ThreadBackend(self.settings.cpu_threads)
        self._queues_remotely = bool(getattr(self._backend, "queues", False))
        self._clock = clock
        self._lock = threading.Lock()
        self._jobs: dict[str, Job] = {}
        self._queues: dict[str, deque[Job]] = {}
        self._running: dict[str, set[Job]] = {}
        # Seconds past runs of each function took: the wait estimate for a queued job.
        self._durations: dict[str, deque[float]] = {}

    # --- the page's side --------------------------------------------------------------------
    def submit(
        self,
        fn: Callable[..., Any],
        *args: Any,
        session: str,
        device: str | devices.Device | None = None,
        estimate: float | None = None,
        tag: str = "",
        lane: str = "",
        **kwargs: Any,
    ) -> JobHandle:
        """Queue `fn(*args, report=..., **kwargs)` for `session` on `device` (None: the GPU
        when there is one, else the CPU) and start it when the device has a free slot.

        `session` is the job's owner (a browser's key: all its tabs count together against
        `per_session`), `tag` says which of the owner's jobs it is to a page (`latest`),
        `device` and `estimate` (expected seconds, e.g. from a timing probe; used for the wait
        shown to the jobs behind it) are the runner's; every other keyword goes to `fn`. The
        job id is unguessable (secrets.token_urlsafe), and worth nothing without the owner.

        `lane` (e.g. "probe"): short work a page needs that is not a run of the student's
        (the transfer page's timing probe) waits in a queue of its own, one job at a time for
        the whole server, instead of behind the device's training runs, and does not count
        against `per_session`; it is the owner's job all the same (listed, stopped, freed).
        """
        target = self._device_key(device)
        now = self._clock()
        self.cleanup(now)
        with self._lock:
            active = sum(
                1
                for j in self._jobs.values()
                if j.session == session and not j.state.finished and not j.lane
            )
            if not lane and active >= self.settings.per_session:
                raise TooManyJobs(
                    f"You already have {active} job{'s' if active > 1 else ''} queued or "
                    f"running: one browser (all its tabs together) may have "
                    f"{self.settings.per_session} at once."
                )
            job = Job(
                id=secrets.token_urlsafe(16),
                session=session,
                device=target,
                fn=fn,
                args=args,
                kwargs=kwargs,
                lock=self._lock,
                submitted_at=now,
                estimate=estimate,
                tag=tag,
                lane=lane,
                touched_at=now,
            )
            self._jobs[job.id] = job
            if self._queues_remotely:
                starting = [job]  # the backend's queue decides when it starts
            else:
                self._queues.setdefault(job.queue, deque()).append(job)
                starting = self._take_slots(job.queue, now)
        self._start(starting)
        return JobHandle(self, job)

    def get(self, session: str, job_id: str) -> JobHandle:
        """The session's job with this id; JobNotFound for another session's, or a freed one
        (the same error, so ids of other sessions cannot be probed)."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or job.session != session:
                raise JobNotFound(
                    "This job is not (or no longer) on the server.",
                )
            job.touched_at = max(job.touched_at, self._clock())
        return JobHandle(self, job)

    def latest(self, session: str, tag: str) -> JobHandle | None:
        """The session's newest job with this tag (what a page shows again after a refresh, in
        any tab of the owner's browser), or None."""
        with self._lock:
            mine = [j for j in self._jobs.values() if j.session == session and j.tag == tag]
            if not mine:
                return None
            job = max(mine, key=lambda j: j.submitted_at)
            job.touched_at = max(job.touched_at, self._clock())
        return JobHandle(self, job)

    def abandon(self, session: str) -> list[str]:
        """Everything of an owner who has gone: queued jobs leave the queue, running ones are
        asked to stop (at their next report), and every job of theirs is freed with its inputs
        and result, finished or not. The ids."""
        with self._lock:
            mine = [j for j in self._jobs.values() if j.session == session]
        for job in mine:
            self.stop(job)
        with self._lock:
            for job in mine:
                self._jobs.pop(job.id, None)
                if job.state.finished:
                    job.args, job.kwargs = (), {}
                    job.value, job.has_value, job.error = None, False, None
        if mine:
            log.info("freed %d job(s) of a browser that has gone", len(mine))
        return [j.id for j in mine]

    def jobs(self, session: str) -> list[JobHandle]:
        """The session's jobs, oldest first."""
        with self._lock:
            mine = [j for j in self._jobs.values() if j.session == session]
        return [JobHandle(self, j) for j in sorted(mine, key=lambda j: j.submitted_at)]

    def stop(self, job: Job) -> None:
        with self._lock:
            if job.state.finished:
                return
            job.stop_event.set()
            if job.state is not JobState.QUEUED:
                return  # a running job stops at its next report(...)
            if not self._queues_remotely:
                self._queues[job.queue].remove(job)
            now = self._clock()
            job.state = JobState.STOPPED
            job.ended_at = job.touched_at = now
            inputs = job.args, job.kwargs
            job.args, job.kwargs = (), {}
        job.ended.set()
        if self._queues_remotely:
            self._backend.cancel(job)  # type: ignore[attr-defined]
        if self._on_drop is not None:
            try:
                self._on_drop(*inputs)
            except Exception:  # freeing is best effort: the stop itself has happened
                log.exception("could not free the inputs of job %s", job.id[:6])

    def touch(self, job: Job) -> None:
        with self._lock:
            job.touched_at = max(job.touched_at, self._clock())

    def place(self, job: Job) -> tuple[int | None, float | None]:
        """The job's queue position and estimated wait (see `_queue_place`)."""
        with self._lock:
            return self._queue_place(job, self._clock())

    def snapshot(self, job: Job) -> Progress:
        with self._lock:
            now = self._clock()
            job.touched_at = max(job.touched_at, now)
            position, wait = self._queue_place(job, now)
            return Progress(
                state=job.state,
                step=job.step,
                total=job.total,
                metrics=[dict(m) for m in job.metrics],
                message=job.message,
                elapsed=job.elapsed(now),
                eta=job.eta(now),
                position=position,
                wait=wait,
                error=job.error_text,
                device=job.device,
            )

    def cleanup(self, now: float | None = None) -> list[str]:
        """Free finished jobs nobody has looked at for `idle_seconds`; their ids."""
        now = self._clock() if now is None else now
        idle = self.settings.idle_seconds
        with self._lock:
            freed = [
                j.id for j in self._jobs.values() if j.state.finished and now - j.touched_at > idle
            ]
            for job_id in freed:
                del self._jobs[job_id]
        return freed

    def shutdown(self, timeout: float = 10.0) -> bool:
        """Stop every job (at exit): queued ones are cancelled, running ones asked to stop, and
        waited for up to `timeout` seconds in all, so that no job thread is still inside torch
        when the interpreter exits (C++ threads torn down mid-call abort the process with
        `terminate called without an active exception`). Whether every job ended."""
        with self._lock:
            jobs = list(self._jobs.values())
        for job in jobs:
            self.stop(job)
        deadline = time.monotonic() + timeout
        ended = all(job.ended.wait(max(0.0, deadline - time.monotonic())) for job in jobs)
        join = getattr(self._backend, "join", None)  # the threads' last lines, torch's included
        if join is not None:
            ended = join(max(0.0, deadline - time.monotonic())) and ended
        return ended

    def backend_slots(self) -> dict[str, int]:
        """Jobs that may run at once per device queue: this process's devices for threads,
        the cluster's for Ray."""
        slots = getattr(self._backend, "slots", None)
        if slots is not None:
            return dict(slots)
        return {d.key: self.settings.per_device for d in devices.available()}

    # --- scheduling ---------------------------------------------------------------------------
    def _device_key(self, device: str | devices.Device | None) -> str:
        """The queue key of the device a job asks for; a backend may know other devices
        than this process's torch (a Ray cluster's GPUs)."""
        resolve = getattr(self._backend, "device_key", None)
        return resolve(device) if resolve is not None else devices.resolve(device).key

    def _slots(self, queue: str) -> int:
        """Jobs running at once from one queue: `per_device` on a device, one in a lane."""
        return 1 if queue.startswith("lane:") else self.settings.per_device

    def _take_slots(self, key: str, now: float) -> list[Job]:
        """Move queued jobs into free slots of the queue `key` (a device's or a lane's, under
        the lock); the ones to start."""
        queue = self._queues.get(key, deque())
        running = self._running.setdefault(key, set())
        starting = []
        while queue and len(running) < self._slots(key):
            job = queue.popleft()
            job.state = JobState.RUNNING
            job.started_at = now
            running.add(job)
            starting.append(job)
        return starting

    def _start(self, jobs: list[Job]) -> None:
        """Hand jobs to the backend, outside the lock (a thread may report at once)."""
        for job in jobs:
            try:
                report = self._backend.reporter(job)
                self._backend.start(job, report, lambda out, job=job: self._ended(job, out))
            except Exception as err:  # no thread to be had: the job fails, its slot is freed
                self._ended(job, Outcome(error=err))

    def _ended(self, job: Job, outcome: Outcome) -> None:
        with self._lock:
            if job.ended.is_set():
                return  # stopped while queued in the backend's queue: already ended here
            now = self._clock()
            job.ended_at = job.touched_at = now
            if outcome.error is not None:
                job.state = JobState.FAILED
                job.error = _without_frames(outcome.error, job)
                job.error_text = error_text(outcome.error)
            elif outcome.stopped or job.stop_event.is_set():
                job.state = JobState.STOPPED
                job.value, job.has_value = outcome.value, not outcome.stopped
            else:
                job.state = JobState.DONE
                job.value, job.has_value = outcome.value, True
                past = self._durations.setdefault(_name(job.fn), deque(maxlen=5))
                past.append(job.elapsed(now))
            job.args, job.kwargs = (), {}  # the inputs (a dataset) need not outlive the run
            starting = []
            if not self._queues_remotely:
                self._running[job.queue].discard(job)
                starting = self._take_slots(job.queue, now)
        job.ended.set()
        self._start(starting)

    def _expected(self, job: Job) -> float | None:
        """Seconds a job not yet started will take: its estimate, else past runs' mean."""
        if job.estimate is not None:
            return job.estimate
        past = self._durations.get(_name(job.fn))
        return sum(past) / len(past) if past else None

    def _queue_place(self, job: Job, now: float) -> tuple[int | None, float | None]:
        """Position (1 = next) and estimated wait of a queued job (under the lock).

        The device's slots free up when their running jobs' ETAs run out; each job ahead
        takes the earliest free slot for its expected time. Unknown if any of those is.
        """
        if job.state is not JobState.QUEUED:
            return None, (0.0 if job.state is JobState.RUNNING else None)
        if self._queues_remotely:
            return job.position, job.wait
        queue = self._queues[job.queue]
        position = queue.index(job) + 1
        running = self._running.get(job.queue, set())
        free_at: list[float] = [0.0] * (self._slots(job.queue) - len(running))
        for other in running:
            eta = other.eta(now)
            if eta is None:
                return position, None
            free_at.append(eta)
        heapq.heapify(free_at)
        for ahead in list(queue)[: position - 1]:
            expected = self._expected(ahead)
            if expected is None:
                return position, None
            heapq.heappush(free_at, heapq.heappop(free_at) + expected)
        return position, free_at[0]


def _name(fn: Callable[..., Any]) -> str:
    return f"{getattr(fn, '__module__', '')}.{getattr(fn, '__qualname__', repr(fn))}"
