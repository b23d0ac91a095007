"""The job runner with small fake job functions (sleep in small steps, or wait on a gate):
states, progress, stop, failures, per-device queues, per-session lookup, idle cleanup."""

from __future__ import annotations

import itertools
import pickle
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from cnnviz.errors import JobNotFound, JobStopped, OutOfBounds, TooManyJobs
from cnnviz.jobs import JobRunner, JobSettings, JobState, Reporter, Stopped, ThreadBackend

WAIT = 10.0  # seconds a test waits for a thread before it fails instead of hanging


def wait_until(condition: Callable[[], bool], timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.005)


class FakeClock:
    """A clock the test moves by hand (the runner takes it as `clock`)."""

    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def count_to(n: int, *, report: Reporter, pause: float = 0.002) -> int:
    """A fake training loop: n steps, a loss per step; returns the sum 0 + 1 + ... + n-1."""
    total = 0
    for i in range(n):
        time.sleep(pause)
        total += i
        report(step=i + 1, total=n, metrics={"step": i + 1, "loss": 1 / (i + 1)}, message="go")
    return total


def forever(*, report: Reporter, pause: float = 0.02) -> None:
    """Reports a step every `pause` seconds until stopped."""
    step = 0
    while True:
        time.sleep(pause)
        step += 1
        report(step=step)


def gated(gate: threading.Event, log: list[str], name: str, *, report: Reporter) -> str:
    """Reports once, then waits for the test to open the gate; logs its start and its end."""
    log.append(f"start {name}")
    report(step=1, total=2, message=name)
    assert gate.wait(WAIT), "gate never opened"
    log.append(f"end {name}")
    return name


@pytest.fixture
def runner() -> JobRunner:
    r = JobRunner(JobSettings(per_device=1, per_session=5))
    yield r
    r.shutdown()


def test_job_runs_to_done_with_growing_progress(runner: JobRunner) -> None:
    handle = runner.submit(count_to, 40, session="a", device="cpu")
    snapshots = []
    while not handle.done(0.001):
        snapshots.append(handle.progress())
    snapshots.append(handle.progress())

    assert handle.result(WAIT) == sum(range(40))
    assert handle.state is JobState.DONE
    final = snapshots[-1]
    assert (final.state, final.step, final.total, final.message) == (JobState.DONE, 40, 40, "go")
    assert final.metrics == [{"step": i, "loss": 1 / i} for i in range(1, 41)]
    assert final.fraction == 1.0 and final.eta == 0.0 and final.elapsed > 0
    # Only growing: steps never go back, and every history is the start of the next one.
    for before, after in itertools.pairwise(snapshots):
        assert after.step >= before.step
        assert after.metrics[: len(before.metrics)] == before.metrics
        assert after.elapsed >= before.elapsed
    assert any(0 < s.step < 40 for s in snapshots), "no snapshot caught the job mid-run"


def test_stop_takes_effect_within_two_seconds(runner: JobRunner) -> None:
    handle = runner.submit(forever, session="a", device="cpu")
    wait_until(lambda: handle.progress().step >= 3)
    asked = time.monotonic()
    handle.stop()
    wait_until(lambda: handle.state is JobState.STOPPED, timeout=5)
    # The bound on behavior (a job that reports every batch stops within 2 s).
    assert time.monotonic() - asked < 2.0
    with pytest.raises(JobStopped):
        handle.result(0)


def test_a_stopped_job_may_return_what_it_has(runner: JobRunner) -> None:
    def train(*, report: Reporter) -> dict[str, int]:
        steps = 0
        try:
            while True:
                time.sleep(0.01)
                steps += 1
                report(step=steps)
        except Stopped:
            return {"steps": steps}  # the model trained so far

    handle = runner.submit(train, session="a", device="cpu")
    wait_until(lambda: handle.progress().step >= 2)
    handle.stop()
    partial = handle.result(WAIT)
    assert handle.state is JobState.STOPPED
    assert partial["steps"] >= 2


def test_stopped_is_not_swallowed_by_except_exception(runner: JobRunner) -> None:
    def careless(*, report: Reporter) -> str:
        while True:
            try:
                time.sleep(0.01)
                report(step=1)
            except Exception:  # a loop that retries on errors must still stop
                continue

    handle = runner.submit(careless, session="a", device="cpu")
    wait_until(lambda: handle.progress().step == 1)
    handle.stop()
    assert handle.done(WAIT)
    assert handle.state is JobState.STOPPED


def test_failing_job_reports_its_error_and_the_runner_carries_on(runner: JobRunner) -> None:
    def bad(*, report: Reporter) -> None:
        report(step=1, total=3)
        raise ValueError("bad batch 2")

    def student_error(*, report: Reporter) -> None:
        raise OutOfBounds("The batch size is 0.", "Use at least 1.")

    failed = runner.submit(bad, session="a", device="cpu")
    assert failed.done(WAIT)
    assert failed.state is JobState.FAILED
    assert failed.error == "ValueError: bad batch 2"
    assert failed.progress().error == "ValueError: bad batch 2"
    with pytest.raises(ValueError, match="bad batch 2"):
        failed.result(0)

    ours = runner.submit(student_error, session="a", device="cpu")
    assert ours.done(WAIT)
    assert ours.error == "The batch size is 0. Use at least 1."

    # The device's slot was given back: the next job on it runs to the end.
    after = runner.submit(count_to, 5, session="a", device="cpu")
    assert after.result(WAIT) == 10
    assert after.state is JobState.DONE


def test_two_sessions_queue_fifo_on_one_device(runner: JobRunner) -> None:
    gates = {name: threading.Event() for name in "ABC"}
    log: list[str] = []
    a = runner.submit(gated, gates["A"], log, "A", session="alice", device="cpu")
    wait_until(lambda: a.state is JobState.RUNNING and log == ["start A"])
    b = runner.submit(gated, gates["B"], log, "B", session="bob", device="cpu")
    c = runner.submit(gated, gates["C"], log, "C", session="alice", device="cpu")

    assert (a.position, b.position, c.position) == (None, 1, 2)
    assert (b.state, c.state) == (JobState.QUEUED, JobState.QUEUED)
    assert b.progress().elapsed == 0.0
    time.sleep(0.1)  # B could start now if the slot were not taken
    assert log == ["start A"]

    gates["A"].set()
    assert a.result(WAIT) == "A"
    wait_until(lambda: log == ["start A", "end A", "start B"])
    assert (b.state, c.state, c.position) == (JobState.RUNNING, JobState.QUEUED, 1)

    gates["B"].set()
    gates["C"].set()
    assert c.result(WAIT) == "C"
    assert log == ["start A", "end A", "start B", "end B", "start C", "end C"]

    # Per session: each sees its own jobs, and no other's, even knowing the id.
    assert runner.get("bob", b.id).result(0) == "B"
    with pytest.raises(JobNotFound):
        runner.get("alice", b.id)
    with pytest.raises(JobNotFound):
        runner.get("bob", a.id)
    assert [h.id for h in runner.jobs("alice")] == [a.id, c.id]
    assert [h.id for h in runner.jobs("bob")] == [b.id]


def test_two_slots_run_two_jobs_at_once() -> None:
    runner = JobRunner(JobSettings(per_device=2, per_session=5))
    both_in = threading.Barrier(3, timeout=WAIT)  # two jobs + the test
    gate = threading.Event()

    def meet(*, report: Reporter) -> str:
        report(step=1)
        both_in.wait()  # passes only when both jobs run at the same time
        assert gate.wait(WAIT)
        return "met"

    first = runner.submit(meet, session="a", device="cpu")
    second = runner.submit(meet, session="b", device="cpu")
    third = runner.submit(count_to, 3, session="c", device="cpu")
    both_in.wait()
    assert (third.state, third.position) == (JobState.QUEUED, 1)  # until one of the two ends
    gate.set()
    assert first.result(WAIT) == second.result(WAIT) == "met"
    assert third.result(WAIT) == 3


def test_a_job_that_never_reports_cannot_be_stopped_once_running(runner: JobRunner) -> None:
    gate = threading.Event()
    ran: list[str] = []

    def silent(name: str, *, report: Reporter) -> str:
        ran.append(name)
        assert gate.wait(WAIT)
        return name

    running = runner.submit(silent, "first", session="a", device="cpu")
    wait_until(lambda: ran == ["first"])
    queued = runner.submit(silent, "second", session="a", device="cpu")

    queued.stop()  # still queued: cancelled at once, never runs
    assert queued.state is JobState.STOPPED
    with pytest.raises(JobStopped):
        queued.result(0)

    running.stop()  # running, never reports: it goes on until it returns
    time.sleep(0.2)
    assert running.state is JobState.RUNNING
    gate.set()
    assert running.result(WAIT) == "first"  # what it returned is kept
    assert running.state is JobState.STOPPED
    assert ran == ["first"]


def test_queued_wait_comes_from_the_running_jobs_eta() -> None:
    clock = FakeClock(0.0)
    runner = JobRunner(JobSettings(per_device=1, per_session=5), clock=clock)
    gate = threading.Event()
    log: list[str] = []
    a = runner.submit(gated, gate, log, "A", session="a", device="cpu")  # starts at t=0
    wait_until(lambda: a.progress().step == 1)  # step 1 of 2
    b = runner.submit(count_to, 2, session="b", device="cpu", estimate=30.0)
    c = runner.submit(count_to, 2, session="c", device="cpu")
    clock.now = 10.0

    running = a.progress()
    assert (running.elapsed, running.eta, running.wait) == (10.0, 10.0, 0.0)
    assert (b.position, b.wait) == (1, 10.0)  # when A's ETA runs out
    assert (c.position, c.wait) == (2, 40.0)  # then B's 30 s estimate

    gate.set()
    assert c.result(WAIT) == 1  # A ran from t=0 to t=10: `gated` took 10 s
    # Without an estimate, a function's past run time stands in for it.
    gate = threading.Event()
    d = runner.submit(gated, gate, log, "D", session="a", device="cpu")
    wait_until(lambda: d.progress().step == 1)  # step 1 of 2 at 0 s elapsed: ETA 0
    e = runner.submit(gated, gate, log, "E", session="b", device="cpu")
    f = runner.submit(count_to, 2, session="c", device="cpu")
    assert (e.position, e.wait) == (1, 0.0)
    assert (f.position, f.wait) == (2, 10.0)
    gate.set()
    assert f.result(WAIT) == 1
    runner.shutdown()


def test_idle_cleanup_frees_finished_jobs_after_the_idle_time_only() -> None:
    clock = FakeClock(100.0)
    runner = JobRunner(JobSettings(idle_seconds=60, per_session=5), clock=clock)
    done = runner.submit(count_to, 3, session="a", device="cpu")
    assert done.result(WAIT) == 3  # ended (and last seen) at t=100
    gate = threading.Event()
    running = runner.submit(gated, gate, [], "R", session="a", device="cpu")
    wait_until(lambda: running.state is JobState.RUNNING)

    assert runner.cleanup(160.0) == []  # exactly the idle time: kept
    clock.now = 150.0
    runner.get("a", done.id)  # a visit (a browser refresh) counts as activity
    assert runner.cleanup(209.0) == []
    assert runner.cleanup(211.0) == [done.id]
    with pytest.raises(JobNotFound):
        runner.get("a", done.id)
    # A running job is never freed, however long nobody looks.
    assert runner.cleanup(10_000.0) == []
    assert runner.get("a", running.id).state is JobState.RUNNING
    gate.set()
    assert running.result(WAIT) == "R"


def test_result_and_progress_survive_pickle(runner: JobRunner) -> None:
    def train(*, report: Reporter) -> dict[str, Any]:
        report(step=1, total=1, metrics={"epoch": 1, "val_accuracy": 0.5}, message="epoch 1")
        return {"classes": ["cat", "dog"], "history": [{"epoch": 1, "val_accuracy": 0.5}]}

    handle = runner.submit(train, session="a", device="cpu")
    result = handle.result(WAIT)
    snapshot = handle.progress()
    assert pickle.loads(pickle.dumps(result)) == result
    assert pickle.loads(pickle.dumps(snapshot)) == snapshot
    assert snapshot.metrics == [{"epoch": 1, "val_accuracy": 0.5}]


def test_history_keeps_copies_of_the_reported_dicts(runner: JobRunner) -> None:
    def reuse(*, report: Reporter) -> None:
        row = {"loss": 1.0}
        report(metrics=row)
        row["loss"] = 0.5  # a loop that reuses its dict must not rewrite the history
        report(metrics=row)

    handle = runner.submit(reuse, session="a", device="cpu")
    handle.result(WAIT)
    history = handle.progress().metrics
    assert history == [{"loss": 1.0}, {"loss": 0.5}]
    history[0]["loss"] = 99.0  # a snapshot is the caller's own copy
    assert handle.progress().metrics[0] == {"loss": 1.0}


def test_one_session_may_have_only_so_many_jobs() -> None:
    runner = JobRunner(JobSettings(per_session=2))
    gate = threading.Event()
    first = runner.submit(gated, gate, [], "1", session="a", device="cpu")
    runner.submit(gated, gate, [], "2", session="a", device="cpu")
    with pytest.raises(TooManyJobs):
        runner.submit(gated, gate, [], "3", session="a", device="cpu")
    other = runner.submit(count_to, 2, session="b", device="cpu")  # another session's own
    gate.set()
    first.result(WAIT)
    assert other.result(WAIT) == 1
    runner.submit(count_to, 2, session="a", device="cpu").result(WAIT)  # room again


def test_job_ids_are_unguessable_and_the_reporter_names_the_device(runner: JobRunner) -> None:
    def where(*, report: Reporter) -> str:
        return report.device

    handles = [runner.submit(where, session="a", device="cpu") for _ in range(3)]
    assert [h.result(WAIT) for h in handles] == ["cpu"] * 3
    ids = {h.id for h in handles}
    assert len(ids) == 3
    assert all(len(i) >= 22 for i in ids)  # token_urlsafe(16): 128 random bits


def test_a_failed_job_keeps_no_frames_alive(runner: JobRunner) -> None:
    import gc
    import weakref

    class Dataset:
        pass

    seen: list[weakref.ref[Dataset]] = []

    def crash(*, report: Reporter) -> None:
        data = Dataset()  # a local of the failing frame, like a training set
        seen.append(weakref.ref(data))
        raise RuntimeError("out of memory")

    handle = runner.submit(crash, session="a", device="cpu")
    assert handle.done(WAIT)
    gc.collect()
    assert handle.error == "RuntimeError: out of memory"
    assert seen[0]() is None  # the traceback (and its frames) went to the log, not the job


def test_settings_from_the_environment() -> None:
    env = {"CNNVIZ_JOBS_PER_DEVICE": "3", "CNNVIZ_JOBS_IDLE_SECONDS": "90"}
    assert JobSettings.from_env(env) == JobSettings(per_device=3, idle_seconds=90.0)
    assert JobSettings.from_env({}) == JobSettings()
    with pytest.raises(ValueError):
        JobSettings.from_env({"CNNVIZ_JOBS_PER_DEVICE": "0"})


def test_a_backend_that_cannot_start_fails_the_job_and_frees_the_slot() -> None:
    class NoThreads(ThreadBackend):
        calls = 0

        def start(self, job, report, done) -> None:  # type: ignore[no-untyped-def]
            NoThreads.calls += 1
            if NoThreads.calls == 1:
                raise RuntimeError("can't start new thread")
            super().start(job, report, done)

    runner = JobRunner(JobSettings(per_session=5), backend=NoThreads())
    first = runner.submit(count_to, 3, session="a", device="cpu")
    assert first.state is JobState.FAILED
    assert first.error == "RuntimeError: can't start new thread"
    assert runner.submit(count_to, 3, session="a", device="cpu").result(WAIT) == 3


def torch_threads(*, report: Reporter) -> int:
    import torch

    return torch.get_num_threads()


def test_a_cpu_job_trains_on_its_own_thread_count_and_leaves_the_servers():
    import torch

    before = torch.get_num_threads()
    want = 1 if before > 1 else 2  # differs from the server's, whatever the machine has
    runner = JobRunner(JobSettings(cpu_threads=want))
    try:
        handle = runner.submit(torch_threads, session="s", device="cpu")
        assert handle.result(timeout=WAIT) == want
        assert torch.get_num_threads() == before
    finally:
        runner.shutdown()


def test_cpu_threads_from_the_environment():
    assert JobSettings.from_env({"CNNVIZ_JOBS_CPU_THREADS": "3"}).cpu_threads == 3
    with pytest.raises(ValueError):
        JobSettings.from_env({"CNNVIZ_JOBS_CPU_THREADS": "0"})


def test_latest_finds_an_owners_newest_job_by_tag_and_no_one_elses(runner: JobRunner) -> None:
    first = runner.submit(count_to, 2, session="a", device="cpu", tag="page_job")
    first.result(WAIT)
    second = runner.submit(count_to, 3, session="a", device="cpu", tag="page_job")
    other = runner.submit(count_to, 2, session="a", device="cpu")
    other.tag = "other_job"  # what cnnviz.ui.jobs.remember_job does after submitting
    assert runner.latest("a", "page_job").id == second.id
    assert runner.latest("a", "other_job").id == other.id
    assert runner.latest("b", "page_job") is None  # another browser's key finds nothing
    assert runner.latest("a", "missing_job") is None


def test_abandon_stops_running_drops_queued_and_frees_every_job_of_an_owner() -> None:
    runner = JobRunner(JobSettings(per_device=1, per_session=5))
    gate = threading.Event()
    running = runner.submit(forever, session="gone", device="cpu")
    queued = runner.submit(count_to, 5, session="gone", device="cpu")
    stays = runner.submit(gated, gate, [], "b", session="here", device="cpu")
    wait_until(lambda: running.progress().step > 0)
    assert queued.state is JobState.QUEUED and stays.position == 2

    freed = runner.abandon("gone")

    assert set(freed) == {running.id, queued.id}
    assert queued.state is JobState.STOPPED  # it left the queue without running
    assert running.done(WAIT) and running.state is JobState.STOPPED
    for handle in (running, queued):
        with pytest.raises(JobNotFound):
            runner.get("gone", handle.id)
    assert runner.jobs("gone") == [] and [j.id for j in runner.jobs("here")] == [stays.id]
    wait_until(lambda: stays.state is JobState.RUNNING)  # the slot went to the next student
    gate.set()
    assert stays.result(WAIT) == "b"
    assert runner.abandon("nobody") == []


def test_shutdown_waits_for_running_jobs_to_end(runner: JobRunner) -> None:
    handle = runner.submit(forever, session="a", device="cpu")
    wait_until(lambda: handle.progress().step > 0)
    assert runner.shutdown(timeout=WAIT)
    assert handle.state is JobState.STOPPED


TORCH_JOB_AT_EXIT = """
import time, torch
from cnnviz.jobs import default_runner

def work(*, report):
    x = torch.randn(384, 384)
    step = 0
    while True:
        for _ in range(10):
            x = torch.tanh(x @ x)
        step += 1
        report(step=step)

handle = default_runner().submit(work, session="s", device="cpu")
while handle.progress().step < 3:
    time.sleep(0.05)
print("exiting while", handle.state.value, flush=True)
"""


@pytest.mark.e2e  # a real process of its own
def test_a_process_that_exits_with_a_torch_job_running_exits_cleanly() -> None:
    """The server stopping with a job running: the runner stops the job and waits before the
    interpreter tears its threads down (before, torch's C++ threads aborted the process with
    `terminate called without an active exception`, rc 134, in 2 of 3 runs here)."""
    import subprocess
    import sys

    for _ in range(3):
        done = subprocess.run(
            [sys.executable, "-c", TORCH_JOB_AT_EXIT], capture_output=True, text=True, timeout=120
        )
        assert "exiting while running" in done.stdout
        assert "terminate called" not in done.stderr
        assert done.returncode == 0, done.stderr[-2000:]


def test_a_lane_queues_apart_from_the_device_and_outside_the_session_limit() -> None:
    """The transfer page's timing probe: not behind a training run on the same device, one at
    a time for the server, not counted against `per_session`, still the owner's job."""
    runner = JobRunner(JobSettings(per_device=1, per_session=1))
    gates = {name: threading.Event() for name in ("train", "p1", "p2")}
    log: list[str] = []
    try:
        train = runner.submit(gated, gates["train"], log, "train", session="a", device="cpu")
        wait_until(lambda: log == ["start train"])
        with pytest.raises(TooManyJobs):  # the session's one run is taken...
            runner.submit(gated, gates["p1"], log, "x", session="a", device="cpu")
        # ...yet its probe runs at once, beside the training on the same device
        p1 = runner.submit(gated, gates["p1"], log, "p1", session="a", device="cpu", lane="probe")
        wait_until(lambda: log == ["start train", "start p1"])
        p2 = runner.submit(gated, gates["p2"], log, "p2", session="b", device="cpu", lane="probe")
        assert (p2.state, p2.position) == (JobState.QUEUED, 1)  # one probe at a time
        assert p1.device == "cpu" and p1.progress().device == "cpu"
        gates["p1"].set()
        assert p1.result(WAIT) == "p1"
        wait_until(lambda: log[-1] == "start p2")
        assert train.state is JobState.RUNNING  # the lane never took the device's slot
        assert {h.id for h in runner.jobs("a")} == {train.id, p1.id}
        assert runner.abandon("b") == [p2.id]  # an owner who left: the probe goes too
    finally:
        for gate in gates.values():
            gate.set()
        runner.shutdown()


def test_the_backend_setting() -> None:
    assert JobSettings.from_env({}).backend == "threads"
    assert JobSettings.from_env({"CNNVIZ_JOBS": "ray"}).backend == "ray"
    assert JobSettings.from_env({"CNNVIZ_JOBS": "ray://head:10001"}).backend == "ray://head:10001"
    assert JobSettings.from_env({"CNNVIZ_JOBS_RESULT_MB": "64"}).result_mb == 64.0
    for bad in ({"CNNVIZ_JOBS": "dask"}, {"CNNVIZ_JOBS_RESULT_MB": "0"}):
        with pytest.raises(ValueError):
            JobSettings.from_env(bad)


class QueueingBackend:
    """A backend that keeps the queue itself (as Ray's does): records what the runner asks."""

    queues = True

    def __init__(self) -> None:
        self.started: list[Any] = []
        self.cancelled: list[Any] = []

    def device_key(self, device: Any) -> str:
        return "cluster-cpu"

    def reporter(self, job: Any) -> Reporter:
        return _NoReport(job.device)

    def start(self, job: Any, report: Any, done: Callable[..., None]) -> None:
        self.started.append((job, done))

    def cancel(self, job: Any) -> None:
        self.cancelled.append(job)


class _NoReport:
    def __init__(self, device: str) -> None:
        self.device = device

    stop_requested = False

    def __call__(self, **_: Any) -> None:
        return None


def test_a_backend_that_queues_gets_every_job_at_once_and_owns_their_place() -> None:
    from cnnviz.jobs.runner import Outcome

    backend = QueueingBackend()
    runner = JobRunner(JobSettings(per_device=1, per_session=5), backend=backend)
    a = runner.submit(lambda *, report: 1, session="s")
    b = runner.submit(lambda *, report: 2, session="s")
    assert [job.id for job, _ in backend.started] == [a.id, b.id]  # no local queue
    assert a.device == "cluster-cpu"
    assert a.state is b.state is JobState.QUEUED
    assert (a.position, a.wait) == (None, None)  # until the backend says
    job_b, done_b = backend.started[1]
    job_b.position, job_b.wait = 2, 12.5
    assert (b.position, b.wait) == (2, 12.5)
    b.stop()  # queued: stopped here at once, and out of the backend's queue
    assert b.state is JobState.STOPPED and backend.cancelled == [job_b]
    done_b(Outcome(value=2))  # a late answer for a job already stopped changes nothing
    assert b.state is JobState.STOPPED
    job_a, done_a = backend.started[0]
    with job_a.lock:
        job_a.state = JobState.RUNNING
    done_a(Outcome(value=1))
    assert a.result(timeout=1) == 1 and a.state is JobState.DONE


def test_the_inputs_of_a_job_dropped_unrun_are_handed_to_on_drop() -> None:
    """Stopped while queued, or its browser gone: on_drop gets its inputs (the server's runner
    releases the datasets they name); a job that ran, or runs, frees its own."""
    dropped: list[tuple] = []
    gate = threading.Event()

    def wait(tag, *, report):
        while not gate.is_set():
            report()
            time.sleep(0.005)
        return tag

    runner = JobRunner(
        JobSettings(per_device=1, per_session=5), on_drop=lambda a, k: dropped.append((a, k))
    )
    running = runner.submit(wait, "running", session="s", device="cpu")
    wait_until(lambda: running.state is JobState.RUNNING)
    queued = runner.submit(wait, "queued", session="s", device="cpu", extra=1)
    left = runner.submit(wait, "left", session="gone", device="cpu")
    queued.stop()
    assert dropped == [(("queued",), {"extra": 1})]
    runner.abandon("gone")
    assert dropped[1] == (("left",), {})
    running.stop()
    gate.set()
    assert running.done(WAIT)
    assert len(dropped) == 2 and left.state is JobState.STOPPED


def test_the_ray_clusters_queues_and_their_slots() -> None:
    """Every GPU of the cluster in one "cuda" queue, the CPUs a queue with per_device slots
    per machine (cnnviz.jobs.ray_backend; the module imports Ray only where it runs)."""
    from cnnviz.jobs.ray_backend import device_keys

    assert device_keys({"CPU": 2.0, "nodes": 1}, 1) == {"cpu": 1}
    assert device_keys({"CPU": 64.0, "GPU": 4.0, "nodes": 2}, 2) == {"cpu": 4, "cuda": 8}
    assert device_keys({"GPU": 1.0}, 1) == {"cpu": 1, "cuda": 1}
