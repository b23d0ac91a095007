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
its next report (a job sends reports to the actor at most every `REPORT_S` seconds), and Ray
ends its worker process `CANCEL_AFTER_S` seconds later if it has not stopped by then (what a
thread cannot do). The result is sent
back to the process that submitted the job (and kept by its runner for the job's owner only),
then forgotten by the actor.

A job function and its arguments travel pickled (cloudpickle): plain values, specs and
references, never a model or a live object (tests/test_job_inputs.py).

If Ray cannot be reached when CNNVIZ_JOBS asks for it, the server refuses to start (one line,
`JobQueueUnreachable`): a class promised one queue per GPU must not silently get one per
process. If the queue goes away while the server runs, the jobs it held fail with a sentence
and the next job tries to reach it again.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import socket
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from cnnviz.errors import (
    CnnvizError,
    JobLost,
    JobQueueUnreachable,
    JobResultTooLarge,
    UnknownDevice,
)
from cnnviz.jobs.devices import Device
from cnnviz.jobs.handle import Job, JobState, Stopped
from cnnviz.jobs.runner import JobRunner, JobSettings, Outcome, error_text

log = logging.getLogger(__name__)

ACTOR_NAME = "cnnviz-jobs"
NAMESPACE = "cnnviz"
POLL_S = 0.1  # a server process asks the queue for its jobs' progress this often
REPORT_S = 0.2  # a running job sends its progress at most this often (metrics at once)
CANCEL_AFTER_S = 1.0  # a job that has not stopped at a report by then: its worker is ended
CONNECT_TIMEOUT_S = 3.0
HISTORY = 200  # jobs the queue remembers for an operator


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


def device_keys(resources: dict[str, float], per_device: int) -> dict[str, int]:
    """The cluster's device queues and their slots: one "cuda" queue with `per_device` slots per
    GPU of the cluster (Ray places each job on a GPU with room), and "cpu" with `per_device`
    slots per machine."""
    slots = {"cpu": per_device * max(1, int(resources.get("nodes", 1)))}
    gpus = int(resources.get("GPU", 0))
    if gpus:
        slots["cuda"] = per_device * gpus
    return slots


def cluster_resources() -> dict[str, float]:
    import ray

    resources = dict(ray.cluster_resources())
    resources["nodes"] = sum(1 for n in ray.nodes() if n.get("Alive"))
    return resources


# --- the queue: one actor for the class ------------------------------------------------------
class _Named:
    """Stands for a job function in the queue's runner: its past durations are kept by name."""

    def __init__(self, name: str) -> None:
        self.__module__, _, self.__qualname__ = name.rpartition(".")

    def __call__(self, *args: Any, **kwargs: Any) -> None:  # never called: tasks run the job
        raise NotImplementedError


class ClusterRunner(JobRunner):
    """The queue actor's runner: device keys are the cluster's ("cuda", "cpu"), each with its
    slots; a "session" is one job of a server process (the processes count per browser)."""

    def __init__(self, settings: JobSettings, slots: dict[str, int], backend: Any) -> None:
        super().__init__(replace(settings, per_session=1), backend=backend)
        self.slots = slots

    def _device_key(self, device: str | Device | None) -> str:
        return str(device)

    def _slots(self, queue: str) -> int:
        return 1 if queue.startswith("lane:") else self.slots.get(queue, self.settings.per_device)


class _Silent:
    """The queue's side of a job's reporter: the task reports to the actor instead."""

    def __init__(self, job: Job) -> None:
        self.device = job.device

    stop_requested = False

    def __call__(self, **_: Any) -> None:
        return None


class _TaskBackend:
    """Starts each job the queue gives a slot as a Ray task; a thread per running task waits
    for its end and frees the slot."""

    def __init__(self, queue: JobQueue) -> None:
        self._queue = queue

    def reporter(self, job: Job) -> _Silent:
        return _Silent(job)

    def start(self, job: Job, report: Any, done: Callable[[Outcome], None]) -> None:
        import ray

        settings = self._queue.settings
        cuda = job.device.startswith("cuda")
        options: dict[str, Any] = {"num_returns": 2, "max_retries": 0}
        if cuda:
            options.update(num_gpus=1 / settings.per_device, num_cpus=1)
        else:
            options.update(num_cpus=settings.cpu_threads)
        payload = job.args[0][0]
        status, value = (
            ray.remote(_execute)
            .options(**options)
            .remote(
                payload,
                job.tag,
                ray.get_runtime_context().current_actor,
                "cuda:0" if cuda else "cpu",
                None if cuda else settings.cpu_threads,
                int(settings.result_mb * 2**20),
            )
        )
        self._queue.tasks[job.tag] = (status, value)
        self._queue.mark(job.tag, started=time.time(), state="running")
        threading.Thread(
            target=self._wait, args=(job.tag, status, value, done), daemon=True
        ).start()

    def _wait(self, job_id: str, status: Any, value: Any, done: Callable[[Outcome], None]) -> None:
        def ended(outcome: Outcome) -> None:
            state = "failed" if outcome.error else "stopped" if outcome.stopped else "done"
            self._queue.mark(job_id, ended=time.time(), state=state)
            done(outcome)

        self._end(job_id, status, value, ended)

    def _end(self, job_id: str, status: Any, value: Any, done: Callable[[Outcome], None]) -> None:
        import ray
        from ray.exceptions import RayTaskError, TaskCancelledError

        try:
            kind, text = ray.get(status)
        except TaskCancelledError:
            done(Outcome(stopped=True))
            return
        except RayTaskError as err:  # the task could not begin: its inputs did not unpickle
            log.error("job %s could not run: %s", job_id[:6], err)
            done(Outcome(error=JobLost(f"The job could not start on a worker ({err.cause!r}).")))
            return
        except Exception as err:  # the worker died: killed, out of memory, its machine gone
            log.warning("job %s lost: %s", job_id[:6], err)
            done(
                Outcome(
                    error=JobLost(
                        "The worker process running this job stopped before it finished "
                        "(it may have run out of memory)."
                    )
                )
            )
            return
        self._queue.results[job_id] = value
        if kind == "failed":
            done(Outcome(error=RuntimeError(text)))
        else:
            done(Outcome(stopped=kind == "stopped"))


class JobQueue:
    """The Ray actor behind every server process's `RayBackend` (threaded: `report` calls from
    running jobs and `status` calls from the processes are served at once)."""

    def __init__(self, settings: JobSettings) -> None:
        self.settings = settings
        self.tasks: dict[str, tuple[Any, Any]] = {}  # job id -> (status ref, value ref)
        self.results: dict[str, Any] = {}  # job id -> value ref of a finished task
        self._handles: dict[str, Any] = {}  # job id -> this runner's JobHandle
        self._submitting = threading.Lock()
        # The last HISTORY jobs by wall clock, for an operator (`python -m cnnviz queue`):
        # never a job's id (worth something with its owner's cookie), its first 6 letters.
        self.history: collections.OrderedDict[str, dict[str, Any]] = collections.OrderedDict()
        self._runner = ClusterRunner(
            settings, device_keys(cluster_resources(), settings.per_device), _TaskBackend(self)
        )

    def slots(self) -> dict[str, int]:
        return dict(self._runner.slots)

    def submit(
        self, job_id: str, device: str, lane: str, name: str, estimate: float | None, payload: list
    ) -> None:
        """Queue a server process's job (its id, its pickled function and arguments in the
        object store, inside a list so that Ray hands the reference on, not the value)."""
        if device not in self._runner.slots:
            raise UnknownDevice(
                f"The job queue's cluster has no {device!r} device: it has "
                f"{', '.join(self._runner.slots)}.",
            )
        self.history[job_id] = {
            "job": job_id[:6],
            "function": name.rpartition(".")[2],
            "queue": f"lane:{lane}" if lane else device,
            "submitted": time.time(),
            "started": None,
            "ended": None,
            "state": "queued",
        }
        while len(self.history) > HISTORY:
            self.history.popitem(last=False)
        with self._submitting:  # the task may report before submit returns: see report
            handle = self._runner.submit(
                _Named(name),
                payload,
                session=job_id,
                device=device,
                estimate=estimate,
                lane=lane,
                tag=job_id,
            )
            self._handles[job_id] = handle

    def report(
        self,
        job_id: str,
        step: int | None,
        total: int | None,
        metrics: list[dict[str, Any]],
        message: str | None,
    ) -> bool:
        """A running job's progress; whether it is asked to stop."""
        handle = self._handles.get(job_id)
        if handle is None:
            with self._submitting:  # a job that started before its submit call returned
                handle = self._handles.get(job_id)
        if handle is None:
            return True  # forgotten: its owner has gone
        job = handle._job
        with job.lock:
            if step is not None:
                job.step = int(step)
            if total is not None:
                job.total = int(total)
            job.metrics.extend(metrics)
            if message is not None:
                job.message = message
            return job.stop_event.is_set()

    def stop(self, job_id: str) -> None:
        handle = self._handles.get(job_id)
        if handle is None:
            return
        handle.stop()
        if handle.state is JobState.RUNNING:
            threading.Timer(CANCEL_AFTER_S, self._cancel, args=(job_id,)).start()

    def _cancel(self, job_id: str) -> None:
        import ray

        handle = self._handles.get(job_id)
        refs = self.tasks.get(job_id)
        if handle is not None and refs is not None and handle.state is JobState.RUNNING:
            ray.cancel(refs[0], force=True)  # a gentle cancel does not wake a sleep

    def status(self, seen: dict[str, int]) -> dict[str, dict[str, Any]]:
        """For each job id, the metrics after the first `seen` and the rest of its snapshot;
        {"state": "lost"} for an id the queue does not hold."""
        out: dict[str, dict[str, Any]] = {}
        for job_id, count in seen.items():
            handle = self._handles.get(job_id)
            if handle is None:
                out[job_id] = {"state": "lost"}
                continue
            p = handle.progress()
            value = self.results.get(job_id)
            out[job_id] = {
                "state": p.state.value,
                "step": p.step,
                "total": p.total,
                "metrics": p.metrics[count:],
                "message": p.message,
                "position": p.position,
                "wait": p.wait,
                "error": p.error,
                "result": None if value is None else [value],
            }
        return out

    def mark(self, job_id: str, **fields: Any) -> None:
        """Record when a job started or ended, and how (the history)."""
        if job_id in self.history:
            self.history[job_id].update(fields)

    def log(self) -> dict[str, Any]:
        """The slots, and the last jobs oldest first: what `python -m cnnviz queue` prints."""
        for job_id, handle in list(self._handles.items()):
            if job_id in self.history:
                self.history[job_id]["state"] = handle.state.value
        return {"slots": dict(self._runner.slots), "jobs": [dict(j) for j in self.history.values()]}

    def forget(self, job_id: str) -> None:
        """Drop a job: a queued one leaves the queue, a running one is stopped, its result
        (if any) is freed once the process that asked has it."""
        if job_id in self._handles:
            self.stop(job_id)
            self._runner.abandon(job_id)
            del self._handles[job_id]
        self.tasks.pop(job_id, None)
        self.results.pop(job_id, None)

    def queues(self) -> dict[str, dict[str, list[str]]]:
        """Each queue's running and queued job ids, oldest first (tests, the bench)."""
        out: dict[str, dict[str, list[str]]] = {}
        for job_id, handle in self._handles.items():
            entry = out.setdefault(handle._job.queue, {"running": [], "queued": []})
            state = handle.state
            if state is JobState.RUNNING:
                entry["running"].append(job_id)
            elif state is JobState.QUEUED:
                entry["queued"].append((handle._job.submitted_at, job_id))
        for entry in out.values():
            entry["queued"] = [job_id for _, job_id in sorted(entry["queued"])]
        return out


def job_queue(settings: JobSettings, name: str = ACTOR_NAME) -> Any:
    """The class's queue actor: the running one, else a new one (detached: it outlives the
    server process that started it, for the others; `ray stop` ends it)."""
    import ray

    return (
        ray.remote(JobQueue)
        .options(
            name=name,
            namespace=NAMESPACE,
            lifetime="detached",
            get_if_exists=True,
            max_concurrency=64,
            num_cpus=0,
            max_restarts=0,
        )
        .remote(settings)
    )


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


# --- inside the worker -----------------------------------------------------------------------
class RemoteReporter:
    """A Ray job's `report`: progress to the queue actor at most every REPORT_S seconds (metrics
    at once), and the stop flag from its answer."""

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

    def flush(self) -> None:
        import ray

        metrics, self._metrics = self._metrics, []
        self._stop = ray.get(
            self._queue.report.remote(self._job_id, self._step, self._total, metrics, self._message)
        )
        self._sent_at = time.monotonic()


def _execute(
    payload: tuple, job_id: str, queue: Any, device: str, threads: int | None, limit: int
) -> tuple[tuple[str, str | None], tuple[str, Any]]:
    """One job in a Ray worker: (kind, error text) for the queue, (kind, value) for the
    process that submitted it; kind is "done", "stopped" or "failed"."""
    from ray import cloudpickle

    fn, args, kwargs = payload
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    report = RemoteReporter(queue, job_id, device)
    try:
        value = fn(*args, report=report, **kwargs)
        report.flush()
    except (Stopped, KeyboardInterrupt):  # KeyboardInterrupt: ray.cancel
        return ("stopped", None), ("stopped", None)
    except BaseException as err:
        return _failed(err)
    size = len(cloudpickle.dumps(value))
    if size > limit:
        return _failed(
            JobResultTooLarge(
                f"This job's result is {size / 2**20:.0f} MB: the server takes at most "
                f"{limit / 2**20:.0f} MB back from a job."
            )
        )
    return ("done", None), ("done", value)


def _failed(err: BaseException) -> tuple[tuple[str, str], tuple[str, BaseException]]:
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

    def reporter(self, job: Job) -> _Silent:
        return _Silent(job)

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
        return Outcome(value=value)

    def _finish(self, job_id: str, entry: list[Any], outcome: Outcome) -> None:
        with self._lock:
            if self._live.pop(job_id, None) is None:
                return
        with contextlib.suppress(Exception):  # the queue is gone: nothing to forget there
            self._queue.forget.remote(job_id)
        entry[1](outcome)
