"""Jobs on Ray, the queue: one detached actor (`JobQueue`) holds every device's queue for all
the server processes and machines of a class, and starts each job as a Ray task once its
queue has a free slot (`cnnviz.jobs.ray_backend` says how the pieces fit)."""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from cnnviz.errors import JobLost, UnknownDevice
from cnnviz.jobs.devices import Device
from cnnviz.jobs.handle import Job, JobState
from cnnviz.jobs.ray_worker import execute
from cnnviz.jobs.runner import JobRunner, JobSettings, Outcome

log = logging.getLogger(__name__)

ACTOR_NAME = "cnnviz-jobs"
NAMESPACE = "cnnviz"
CANCEL_AFTER_S = 1.0  # a job that has not stopped at a report by then: its worker is ended
HISTORY = 200  # jobs the queue remembers for an operator


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


class SilentReporter:
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

    def reporter(self, job: Job) -> SilentReporter:
        return SilentReporter(job)

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
            ray.remote(execute)
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
