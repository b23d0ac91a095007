"""Jobs on Ray: one queue per device for every server process, and machine, of a class.

    CNNVIZ_JOBS=ray                 join the local Ray instance (`make run-multi` starts one),
                                    or start one inside this process when none runs
    CNNVIZ_JOBS=ray://HOST:PORT     join a Ray cluster through Ray Client

With threads (the default), each server process queues its own jobs: `make run-multi`'s N
processes could run N training jobs on one GPU at once. Here one detached actor,
`cnnviz-jobs` in the namespace `cnnviz`, holds the queue of every device for all of them. It
is a `JobRunner` like each process's (the same first-come-first-served order, slots per
device, wait estimates from the jobs' estimates and past durations), whose backend starts a
job as a Ray task that asks for what the job needs (`num_gpus` for a CUDA job, the CPU
threads of `CNNVIZ_JOBS_CPU_THREADS` for a CPU job) once the job's queue has a free slot.

Each server process keeps its own `JobRunner` for its sessions (owners, the per-browser limit,
results), with a `RayBackend` that hands every job to the actor at once and polls it every
`POLL_S` seconds for progress and queue place; a stop asked for on a page reaches the job at
its next report (a job sends reports to the actor at most every `REPORT_S` seconds, without
waiting for the answer), and Ray ends its worker process `CANCEL_AFTER_S` seconds later if it
has not stopped by then (what a thread cannot do). The result is sent back to the process
that submitted the job (and kept by its runner for the job's owner only), then forgotten by
the actor.

Three modules, one per place the code runs: this one in every server process (joining Ray,
`RayBackend`), `ray_queue` in the queue actor (`JobQueue`, its runner, the tasks it starts),
`ray_worker` in the Ray worker that runs a job (its reporter, its result or failure).

A job function and its arguments travel pickled (cloudpickle): plain values, specs and
references, never a model or a live object (tests/test_job_inputs.py).

If Ray cannot be reached when CNNVIZ_JOBS asks for it, the server refuses to start (one line,
`JobQueueUnreachable`): a class promised one queue per GPU must not silently get one per
process. If the queue goes away while the server runs, the jobs it held fail with a sentence
and the next job tries to reach it again.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cnnviz.errors import (
    CnnvizError,
    JobLost,
    JobQueueUnreachable,
    UnknownDevice,
)
from cnnviz.jobs.devices import Device
from cnnviz.jobs.handle import Job, JobState
from cnnviz.jobs.ray_queue import (  # noqa: F401 (device_keys, HISTORY: for callers of this module)
    ACTOR_NAME,
    HISTORY,
    NAMESPACE,
    SilentReporter,
    device_keys,
    job_queue,
)
from cnnviz.jobs.runner import JobSettings, Outcome

log = logging.getLogger(__name__)


POLL_S = 0.1  # a server process asks the queue for its jobs' progress this often
CONNECT_TIMEOUT_S = 3.0


# --- connecting ------------------------------------------------------------------------------
def connect(address: str, *, start: bool = True) -> None:
    """Join Ray as CNNVIZ_JOBS says (`ray` or `ray://HOST:PORT`), once per process;
    JobQueueUnreachable when it cannot be reached. `start`: with "ray" and no instance
    running here, start one in this process (a server), else say so (the CLI)."""
    import ray

    if address.startswith("ray://"):
        _answers(address, address.removeprefix("ray://"))
        if not ray.is_initialized():
            ray.init(address=address, namespace=NAMESPACE, log_to_driver=False)
        return
    if ray.is_initialized():
        return
    given = os.environ.get("RAY_ADDRESS")  # deploy/run_multi.py's head
    if given:
        _answers(f"RAY_ADDRESS={given}", given)
        ray.init(address=given, namespace=NAMESPACE, log_to_driver=False)
        return
    # Ray's own "auto" would retry for minutes on the address an ended instance left behind
    # in /tmp/ray/ray_current_cluster: check it answers first.
    try:
        last = (Path(tempfile.gettempdir()) / "ray" / "ray_current_cluster").read_text().strip()
        _answers(last, last)
    except (OSError, JobQueueUnreachable):
        if not start:
            raise JobQueueUnreachable("No Ray instance runs on this machine.") from None
        log.info("no Ray instance runs here: starting one in this process")
        ray.init(address="local", namespace=NAMESPACE, include_dashboard=False, log_to_driver=False)
        return
    ray.init(address=last, namespace=NAMESPACE, log_to_driver=False)


def _answers(name: str, host_port: str) -> None:
    """JobQueueUnreachable unless something listens at HOST:PORT (Ray's own connection
    attempts retry for a long while; a closed port is answered in seconds here)."""
    host, _, port = host_port.rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except (OSError, ValueError) as err:
        raise JobQueueUnreachable(
            f"The job queue's Ray cluster at {name} does not answer ({err})."
        ) from None


def queue_log(address: str) -> dict[str, Any]:
    """The class's queue as its actor keeps it (slots, the last jobs), joining Ray at
    `address` ("ray" or "ray://HOST:PORT") for the asking; JobQueueUnreachable without one."""
    import ray

    connect(address, start=False)
    try:
        queue = ray.get_actor(ACTOR_NAME, namespace=NAMESPACE)
    except ValueError:
        raise JobQueueUnreachable(
            "Ray runs, but no server has started the class's job queue on it yet."
        ) from None
    return ray.get(queue.log.remote(), timeout=30)


# --- the server process's side ---------------------------------------------------------------
class RayBackend:
    """A server process's backend: every job to the class's queue actor, its progress and
    result polled back (see the module's docstring)."""

    queues = True

    def __init__(self, settings: JobSettings, *, name: str = ACTOR_NAME) -> None:
        connect(settings.backend)
        self.settings = settings
        self._name = name
        self._queue = job_queue(settings, name)
        self.slots: dict[str, int] = self._call(self._queue.slots.remote())
        self._lock = threading.Lock()
        # job id -> [job, done, metrics seen, stop sent, payload reference]
        self._live: dict[str, list[Any]] = {}
        self._poller: threading.Thread | None = None

    def _call(self, ref: Any, timeout: float = 30.0) -> Any:
        import ray
        from ray.exceptions import RayActorError, RayError

        try:
            return ray.get(ref, timeout=timeout)
        except (RayActorError, ConnectionError) as err:
            raise JobQueueUnreachable(f"The class's job queue does not answer ({err}).") from None
        except RayError as err:
            cause = getattr(err, "cause", None)
            if isinstance(cause, CnnvizError):
                raise cause from None
            raise

    # --- the runner's side ---
    def device_key(self, device: str | Device | None) -> str:
        """Jobs go to the cluster's GPUs when it has some, else to its CPUs."""
        key = device.key if isinstance(device, Device) else device
        if key is None:
            return "cuda" if "cuda" in self.slots else "cpu"
        if key.startswith("cuda"):
            key = "cuda"
        if key not in self.slots:
            names = ", ".join(self.slots)
            raise UnknownDevice(
                f"The class's Ray cluster has no device {device!r}: it has {names}.",
                f"Use one of {names}.",
            )
        return key

    def reporter(self, job: Job) -> SilentReporter:
        return SilentReporter(job)

    def start(self, job: Job, report: Any, done: Callable[[Outcome], None]) -> None:
        import ray

        from cnnviz.jobs.runner import _name

        payload = ray.put((job.fn, job.args, job.kwargs))
        try:
            self._call(
                self._queue.submit.remote(
                    job.id, job.device, job.lane, _name(job.fn), job.estimate, [payload]
                )
            )
        except JobQueueUnreachable:  # the actor went away: one new try (get_if_exists)
            self._queue = job_queue(self.settings, self._name)
            self._call(
                self._queue.submit.remote(
                    job.id, job.device, job.lane, _name(job.fn), job.estimate, [payload]
                )
            )
        with self._lock:
            self._live[job.id] = [job, done, 0, False, payload]
            if self._poller is None:
                self._poller = threading.Thread(
                    target=self._poll, name="cnnviz-ray-poll", daemon=True
                )
                self._poller.start()

    def cancel(self, job: Job) -> None:
        """A job stopped while queued (or its owner gone): out of the queue, its inputs freed."""
        with self._lock:
            self._live.pop(job.id, None)
        self._queue.forget.remote(job.id)

    def join(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for this process's jobs to end (at exit)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not self._live:
                    return True
            time.sleep(POLL_S)
        return False

    # --- polling ---
    def _poll(self) -> None:
        while True:
            import ray

            with self._lock:
                live = dict(self._live)
                if not live or not ray.is_initialized():  # (Ray ends at exit before us)
                    self._poller = None  # the next start begins a new poller
                    return
            for job_id, entry in live.items():
                if entry[0].stop_event.is_set() and not entry[3]:
                    entry[3] = True
                    self._queue.stop.remote(job_id)
            try:
                statuses = self._call(
                    self._queue.status.remote({k: e[2] for k, e in live.items()}), timeout=10
                )
            except Exception as err:  # the queue is gone: every job it held has failed
                log.error("the job queue does not answer: %s", err)
                for job_id, entry in live.items():
                    self._finish(
                        job_id,
                        entry,
                        Outcome(
                            error=JobQueueUnreachable(
                                "The class's job queue stopped answering while this job was in it."
                            )
                        ),
                    )
                continue
            for job_id, status in statuses.items():
                self._update(job_id, live[job_id], status)
            time.sleep(POLL_S)

    def _update(self, job_id: str, entry: list[Any], status: dict[str, Any]) -> None:
        job: Job = entry[0]
        state = status["state"]
        if state == "lost":
            self._finish(job_id, entry, Outcome(error=JobLost("The job queue lost this job.")))
            return
        with job.lock:
            if job.state.finished:
                return
            if state != "queued" and job.state is JobState.QUEUED:
                job.state = JobState.RUNNING
                job.started_at = time.monotonic()
            job.position, job.wait = status["position"], status["wait"]
            job.step = status["step"]
            job.total = status["total"]
            job.metrics.extend(status["metrics"])
            job.message = status["message"]
            entry[2] += len(status["metrics"])
        if state in ("queued", "running"):
            return
        if status["result"] is None:  # lost before it answered, or stopped while queued
            error = status["error"] or ""
            if state == "failed":
                outcome = Outcome(error=JobLost(error) if error else JobLost("The job failed."))
            else:
                outcome = Outcome(stopped=True)
        else:
            outcome = self._fetch(status["result"][0])
        self._finish(job_id, entry, outcome)

    def _fetch(self, ref: Any) -> Outcome:
        import ray

        try:
            kind, value = ray.get(ref, timeout=600)
        except Exception as err:
            return Outcome(error=JobLost(f"The job's result could not be fetched ({err})."))
        if kind == "failed":
            return Outcome(error=value)
        if kind == "stopped":
            return Outcome(stopped=True)
        from ray import cloudpickle

        try:
            return Outcome(value=cloudpickle.loads(value))  # pickled by the worker (ray_worker)
        except CnnvizError as err:  # the value's own sentence (a result naming another file)
            return Outcome(error=err)
        except Exception as err:
            return Outcome(error=JobLost(f"The job's result could not be read here ({err})."))

    def _finish(self, job_id: str, entry: list[Any], outcome: Outcome) -> None:
        with self._lock:
            if self._live.pop(job_id, None) is None:
                return
        with contextlib.suppress(Exception):  # the queue is gone: nothing to forget there
            self._queue.forget.remote(job_id)
        entry[1](outcome)
