"""The Ray backend against a real local Ray instance (started once for this module): the same
jobs as the thread backend, one queue for several server processes, stops, faults."""

from __future__ import annotations

import itertools
import os
import signal
import sys
import time
import uuid
from pathlib import Path

import pytest

from cnnviz.errors import JobLost, JobQueueUnreachable, JobResultTooLarge, OutOfBounds
from cnnviz.jobs import JobRunner, JobSettings, JobState

ray = pytest.importorskip("ray")
from cnnviz.jobs import ray_backend  # noqa: E402

pytestmark = pytest.mark.e2e  # starts Ray's processes
# The job functions below travel by value: Ray's workers cannot import this test module.
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])


@pytest.fixture(scope="module", autouse=True)
def _ray(local_ray):
    """The session's local Ray instance (tests/conftest.py)."""
    return local_ray


@pytest.fixture
def settings():
    return JobSettings(cpu_threads=1, backend="ray", per_session=3)


def _runner(settings: JobSettings, name: str) -> JobRunner:
    return JobRunner(settings, backend=ray_backend.RayBackend(settings, name=name))


@pytest.fixture
def queue_name():
    name = f"cnnviz-test-{uuid.uuid4().hex[:8]}"
    yield name
    ray.kill(ray.get_actor(name, namespace=ray_backend.NAMESPACE))


def count(n, delay=0.02, *, report):
    """Counts to n, a step every `delay` seconds; when it ran, by the wall clock."""
    started = time.time()
    for i in range(n):
        time.sleep(delay)
        report(step=i + 1, total=n, message=f"pid {os.getpid()}")
        if (i + 1) % 5 == 0:
            report(metrics={"step": i + 1})
    return {"n": n, "started": started, "ended": time.time()}


def sleeper(*, report):
    """Never reports: only Ray's cancel stops it."""
    report(message=f"pid {os.getpid()}")
    time.sleep(120)
    return "slept"


def touch(path, *, report, dataset=None):
    Path(path).write_text("ran")
    return "ran"


def fails(*, report):
    raise OutOfBounds("A student's sentence.", "What to do.")


def big(nbytes, *, report):
    return b"x" * nbytes


def _pid(handle, timeout=30.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = handle.progress().message
        if message.startswith("pid "):
            return int(message.split()[1])
        time.sleep(0.05)
    raise AssertionError(f"the job never reported its process: {handle.progress()}")


def test_same_result_as_threads_and_progress_comes_back(settings, queue_name):
    threads = JobRunner(JobSettings(cpu_threads=1)).submit(count, 15, session="s")
    on_ray = _runner(settings, queue_name).submit(count, 15, session="s")
    a, b = threads.result(timeout=30), on_ray.result(timeout=60)
    assert a["n"] == b["n"] == 15
    p = on_ray.progress()
    assert p.state is JobState.DONE
    assert (p.step, p.total) == (15, 15)
    assert p.metrics == [{"step": 5}, {"step": 10}, {"step": 15}] == threads.progress().metrics
    assert p.message.startswith("pid ") and int(p.message.split()[1]) != os.getpid()


def test_one_queue_for_two_processes_in_arrival_order(settings, queue_name):
    """Two server processes' runners (two backends on one actor), 6 students, 1 slot: never
    two jobs at once, and the order of arrival across both."""
    first, second = _runner(settings, queue_name), _runner(settings, queue_name)
    handles = []
    for i in range(6):
        runner = (first, second)[i % 2]
        handles.append(runner.submit(count, 5, 0.05, session=f"student{i}"))
    time.sleep(0.6)
    queued = [h for h in handles if h.state is JobState.QUEUED]
    assert len(queued) >= 3
    assert [h.position for h in queued] == list(range(1, len(queued) + 1))
    runs = [h.result(timeout=120) for h in handles]
    for before, after in itertools.pairwise(runs):
        assert before["ended"] <= after["started"]  # one at a time, first come first served


def test_another_session_cannot_see_the_job(settings, queue_name):
    runner = _runner(settings, queue_name)
    handle = runner.submit(count, 3, session="owner")
    handle.result(timeout=60)
    assert runner.get("owner", handle.id).result(timeout=0)["n"] == 3
    with pytest.raises(KeyError):
        runner.get("someone else", handle.id)


def test_stop_at_the_next_report_and_by_ray_cancel(settings, queue_name):
    runner = _runner(settings, queue_name)
    reporting = runner.submit(count, 10_000, session="a")
    _pid(reporting)
    reporting.stop()
    assert reporting.done(timeout=10) and reporting.state is JobState.STOPPED
    silent = runner.submit(sleeper, session="a")
    _pid(silent)
    silent.stop()
    assert silent.done(timeout=15) and silent.state is JobState.STOPPED
    assert runner.submit(count, 2, session="a").result(timeout=60)["n"] == 2  # the slot is free


def test_a_killed_worker_fails_its_job_and_nothing_else(settings, queue_name):
    runner = _runner(settings, queue_name)
    handle = runner.submit(count, 10_000, session="a")
    os.kill(_pid(handle), signal.SIGKILL)
    assert handle.done(timeout=30)
    assert handle.state is JobState.FAILED
    assert "worker process" in handle.error
    with pytest.raises(JobLost):
        handle.result(timeout=0)
    assert runner.submit(count, 2, session="a").result(timeout=60)["n"] == 2
    queue = ray.get_actor(queue_name, namespace=ray_backend.NAMESPACE)
    deadline = time.monotonic() + 10
    while ray.get(queue.queues.remote()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert ray.get(queue.queues.remote()) == {}  # nothing left behind in the queue


def test_a_students_error_comes_back_as_itself(settings, queue_name):
    handle = _runner(settings, queue_name).submit(fails, session="a")
    with pytest.raises(OutOfBounds, match="A student's sentence"):
        handle.result(timeout=60)
    assert handle.error.startswith("A student's sentence")


def test_a_result_too_large_is_refused_with_a_sentence(queue_name):
    settings = JobSettings(cpu_threads=1, backend="ray", result_mb=0.01)
    handle = _runner(settings, queue_name).submit(big, 100_000, session="a")
    with pytest.raises(JobResultTooLarge, match="at most"):
        handle.result(timeout=60)
    assert handle.state is JobState.FAILED


def test_a_queued_job_of_a_browser_that_left_is_dropped(settings, queue_name, tmp_path):
    """Dropped from the class's queue, never run, and its uploaded dataset out of the store
    (the server's runner hands a dropped job's inputs to cnnviz.store.release_datasets)."""
    from cnnviz.data import digits
    from cnnviz.store import default_store, put_dataset, release_datasets

    runner = JobRunner(
        settings,
        backend=ray_backend.RayBackend(settings, name=queue_name),
        on_drop=lambda args, kwargs: release_datasets((args, kwargs)),
    )
    blocker = runner.submit(count, 10_000, session="stays")
    _pid(blocker)
    marker = tmp_path / "ran"
    upload = put_dataset(digits(8), private=True)  # a student's upload, pinned for the job
    queued = runner.submit(touch, str(marker), session="leaves", dataset=upload)
    queue = ray.get_actor(queue_name, namespace=ray_backend.NAMESPACE)
    assert ray.get(queue.queues.remote())["cpu"]["queued"] == [queued.id]
    assert default_store().has(upload.key)
    runner.abandon("leaves")
    assert ray.get(queue.queues.remote())["cpu"]["queued"] == []
    assert not default_store().has(upload.key)  # its files removed
    blocker.stop()
    assert blocker.done(timeout=10)
    assert runner.submit(count, 2, session="stays").result(timeout=60)["n"] == 2
    assert not marker.exists()  # the dropped job never ran


def test_cluster_devices(settings, queue_name):
    backend = ray_backend.RayBackend(settings, name=queue_name)
    assert backend.slots == {"cpu": 1}  # one machine, no GPU: one CPU queue with per_device
    assert backend.device_key(None) == "cpu"
    with pytest.raises(Exception, match="no device 'cuda'"):
        backend.device_key("cuda")


def test_an_unreachable_cluster_is_said_in_one_sentence():
    with socket_closed() as port, pytest.raises(JobQueueUnreachable, match="does not answer"):
        ray_backend.connect(f"ray://127.0.0.1:{port}")


class socket_closed:
    """A loopback port nothing listens on."""

    def __enter__(self) -> int:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]

    def __exit__(self, *exc) -> None:
        return None


def test_the_operators_view_of_the_queue(settings, capsys, monkeypatch):
    """`python -m cnnviz queue`: the slots and the last jobs, in the order they ran, with
    their times; never a whole job id."""
    import json

    from cnnviz.cli import main

    runner = _runner(settings, ray_backend.ACTOR_NAME)
    try:
        first = runner.submit(count, 3, session="a")
        second = runner.submit(count, 3, session="b")
        first.result(timeout=60), second.result(timeout=60)
        monkeypatch.setenv("CNNVIZ_JOBS", "ray")
        assert main(["queue", "--json"]) == 0
        log = json.loads(capsys.readouterr().out)
        assert log["slots"] == {"cpu": 1}
        jobs = log["jobs"][-2:]
        assert [j["job"] for j in jobs] == [first.id[:6], second.id[:6]]
        assert all(j["state"] == "done" and j["function"] == "count" for j in jobs)
        assert jobs[0]["submitted"] <= jobs[0]["started"] <= jobs[0]["ended"] <= jobs[1]["started"]
        assert main(["queue", "--last", "2"]) == 0
        text = capsys.readouterr().out
        assert first.id[:6] in text and first.id not in text
        assert main(["queue", "--last", "0"]) == 2
    finally:
        ray.kill(ray.get_actor(ray_backend.ACTOR_NAME, namespace=ray_backend.NAMESPACE))
