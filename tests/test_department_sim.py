"""bench/department.py's simulator against oracles computed by hand or by a second method: the
real JobRunner on a virtual clock gives the waits of a first-come-first-served queue with k
slots, fair share reorders exactly as described, and the figures it prints are what they say."""

from __future__ import annotations

import heapq
import random
import sys

import numpy as np
import pytest

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "bench"))

import department
from department import Run, Student, replay


def one_run(name: str, at: float, seconds: float) -> Student:
    return Student(name, "X", at, (Run("job", seconds),))


def waits_by_session(result: department.Result) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for r in result.records:
        out.setdefault(r.session, []).append(r.wait)
    return out


@pytest.mark.parametrize("policy", ["fifo", "fair"])
def test_identical_jobs_at_once_wait_whole_rounds(policy: str) -> None:
    """5 jobs of 10 s at t=0 on 2 slots: waits 0, 0, 10, 10, 20 in submission order; the
    last ends at 30, so utilization = 50 / (2 x 30)."""
    students = [one_run(f"s{i}", 0.0, 10.0) for i in range(5)]
    result = replay(students, gpus=2, policy=policy)
    assert [r.wait for r in result.records] == [0, 0, 10, 10, 20]
    assert [r.ended for r in result.records] == [10, 10, 20, 20, 30]
    assert result.utilization() == pytest.approx(50 / (2 * 30))


def fifo_oracle(arrivals: list[tuple[float, float]], k: int) -> list[float]:
    """A k-server first-come-first-served queue by hand: each job in arrival order takes the
    slot that frees first."""
    free = [0.0] * k
    waits = []
    for at, seconds in arrivals:
        start = max(at, heapq.heappop(free))
        waits.append(start - at)
        heapq.heappush(free, start + seconds)
    return waits


@pytest.mark.parametrize("k", [1, 2, 3, 5])
@pytest.mark.parametrize("seed", [0, 1])
def test_fifo_waits_match_the_k_server_recursion(k: int, seed: int) -> None:
    rng = random.Random(seed)
    at = 0.0
    arrivals = []
    for _ in range(200):
        at += rng.expovariate(1 / 2.0)
        arrivals.append((at, rng.uniform(0.5, 3.0 * k)))
    students = [one_run(f"s{i:03d}", a, d) for i, (a, d) in enumerate(arrivals)]
    result = replay(students, gpus=k, policy="fifo")
    expected = fifo_oracle(arrivals, k)
    assert max(expected) > 5  # the queue did form: the check is not of an idle server
    assert [r.wait for r in result.records] == pytest.approx(expected, abs=1e-9)
    busy = sum(d for _, d in arrivals)
    span = max(a + w + d for (a, d), w in zip(arrivals, expected, strict=True)) - arrivals[0][0]
    assert result.utilization() == pytest.approx(busy / (k * span))


def hand_example() -> list[Student]:
    """1 GPU. A runs 2 s from t=0, then (no think time) submits a 5 s run at t=2. Y submits
    10 s at t=1 and starts at t=2. B submits 5 s at t=3. At t=12 both A's second run
    (submitted at 2, A has used 2 s) and B's (submitted at 3, B has used 0 s) are queued."""
    return [
        Student("A", "X", 0.0, (Run("a1", 2.0), Run("a2", 5.0)), (0.0,)),
        one_run("Y", 1.0, 10.0),
        one_run("B", 3.0, 5.0),
    ]


def test_fifo_and_fair_share_differ_as_computed_by_hand() -> None:
    fifo = waits_by_session(replay(hand_example(), gpus=1, policy="fifo"))
    fair = waits_by_session(replay(hand_example(), gpus=1, policy="fair"))
    # FIFO: A's second run first (starts 12, waits 10), B's at 17 (waits 14).
    assert fifo == {"A": [0, 10], "Y": [1], "B": [14]}
    # Fair share: B has used less GPU time, so it starts at 12 (waits 9), A's at 17 (waits 15).
    assert fair == {"A": [0, 15], "Y": [1], "B": [9]}


def test_fair_share_counts_a_running_job_up_to_now() -> None:
    """3 GPUs. Browser Q has two tabs (one session): its first run holds a GPU from 0 to 100,
    its second (5 s) queues at t=1; P's run (5 s) queues at t=2. X's run frees a GPU at t=20:
    Q has used 20 s by then (its running job), P none, so fair share starts P (waits 18) and Q's
    second run at 25 (waits 24). FIFO: Q's at 20 (waits 19), P's at 25 (waits 23). Were the
    running job not counted, Q and P would tie and fair share would be FIFO."""
    students = [
        one_run("A", 0.0, 100.0),
        one_run("Q", 0.0, 100.0),
        one_run("X", 0.0, 20.0),
        one_run("Q", 1.0, 5.0),
        one_run("P", 2.0, 5.0),
    ]
    fifo = waits_by_session(replay(students, gpus=3, policy="fifo"))
    fair = waits_by_session(replay(students, gpus=3, policy="fair"))
    assert fifo["Q"] == [0, 19] and fifo["P"] == [23]
    assert fair["Q"] == [0, 24] and fair["P"] == [18]


def test_one_process_per_gpu_on_one_gpu_is_fifo() -> None:
    rng = random.Random(3)
    mix = department.Mix()
    students = department.class_students(department.Lecture("X", 0.0, 30), rng, mix)
    fifo = replay(students, gpus=1, policy="fifo")
    split = replay(students, gpus=1, policy="split", seed=7)
    assert [r.wait for r in split.records] == [r.wait for r in fifo.records]


def test_a_students_next_run_waits_for_the_previous_one_and_its_think_time() -> None:
    s = Student("A", "X", 4.0, (Run("a1", 3.0), Run("a2", 2.0), Run("a3", 1.0)), (10.0, 20.0))
    result = replay([s], gpus=1)
    assert [(r.submitted, r.started, r.ended) for r in result.records] == [
        (4, 4, 7),
        (17, 17, 19),
        (39, 39, 40),
    ]


def test_percentile_matches_numpy() -> None:
    rng = random.Random(0)
    for n in (1, 2, 7, 100):
        values = [rng.expovariate(1.0) for _ in range(n)]
        for q in (50, 95, 100):
            assert department.percentile(values, q) == pytest.approx(np.percentile(values, q))


def test_run_seconds_from_the_measured_figures_by_hand() -> None:
    """A full fine-tune of 200 images, 3 epochs: 160 training images at 16.6 images/s and 40
    validation images at 4.41 s per 200 forward passes, each epoch; on the GPU / 20 + 1 s."""
    by_hand = 3 * (160 / 16.6 + 40 * 4.41 / 200)
    assert department.cpu_seconds("full", 200) == pytest.approx(by_hand)
    assert department.Mix(speedup=20, overhead=1).seconds("full", "faces") == pytest.approx(
        1 + by_hand / 20
    )
    # A linear probe: one feature pass, 3 head epochs of 0.023 passes each.
    assert department.cpu_seconds("linear", 200) == pytest.approx(4.41 * 1.069)


def test_busiest_hour_and_class_p95() -> None:
    """Two 1,800 s runs on 1 GPU, both submitted at t=3,000: run 1 3,000-4,800, run 2
    4,800-6,600 (waits 1,800). The hour 3,600-7,200 is busy 1,200 + 1,800 = 3,000 s; the
    class's p95 of the waits (0, 1,800) is 0.95 x 1,800."""
    students = [one_run("a", 3000.0, 1800.0), one_run("b", 3000.0, 1800.0)]
    result = replay(students, gpus=1)
    assert result.busiest_hour() == pytest.approx(3000 / 3600)
    assert result.class_p95() == {"X": pytest.approx(0.95 * 1800)}
