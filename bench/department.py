"""Planning past one machine (issue 21): how many GPUs a department's classes need.

A seeded discrete-event simulation replays a day of students' training runs against the real
job runner (`cnnviz.jobs.JobRunner`): its clock is the simulation's virtual clock and its
Backend ends each job at a simulated time, so the FIFO policy measured is the code a class
server runs. Fair share per session is the same runner with one change (`FairShareRunner`).

What is simulated
- A class: 40 students (one browser, one session each). At the teacher's "start your run"
  (the cue) each student submits a first run after a reaction time drawn from an exponential
  distribution (mean `--reaction`, 60 s: half within 42 s, 95% within 3 minutes): that is the
  burst. Each student makes 1, 2 or 3 runs (equally likely); the next run is submitted only
  after the previous one ended, after a think time drawn uniformly from `--think` (30-120 s:
  looking at the curves, changing a setting).
- The runs are the Transfer learning page's (the jobs that wait for a GPU; the live
  experiments are pinned to the CPU, `device="cpu"` in cnnviz/ui/experiments.py, and never
  queue on one). The first run is the page's defaults (resnet18, linear probe, digits, 3
  epochs, 224 px on a GPU); a later run changes the strategy (linear 40%, last 2 blocks 35%,
  full fine-tune 25%) and the data (digits 50%, faces 25%, textures 25%).
- Durations: CPU seconds from this machine's measured figures (`CPU_FEATURE_S` etc. below),
  divided by `--speedup` for a GPU, plus `--overhead` seconds a run pays whatever the GPU
  (both assumptions: no GPU was lent to measure them; see `SPEEDUP`).
- A department day: 10 classes of 40, 90-minute lectures from 08:00 to 18:00, some at the
  same time (`DAY`), each with its cue 30 minutes in.
- GPUs: k GPUs are k slots of one FIFO queue (`per_device=k` on one device key): a pool the
  runner fills in order. Today's app does not pool them: a run submitted without a device
  goes to the first GPU (`cnnviz.jobs.devices.default()`), so the others would stay idle.
  `split` is what one server process per GPU would give instead: k runners of one slot each,
  every browser bound to one of them at random (nginx hashes a random cookie per browser,
  deploy/nginx.conf).

Measured per run: queue wait (start - submit), p50/p95/max over every run; the p95 of each
class; GPU utilization = busy GPU-seconds / (k x (last end - first submit)), and in the
busiest clock hour. Each figure is the mean over `--seeds` seeds, with the spread (min-max) in
brackets. Last, the fewest GPUs that keep a class's p95 wait under 30 s.

    python bench/department.py                # 10 seeds, GPUs 20x and 100x: 10-20 s on 2 cores
    python bench/department.py --gpus 1,2,3,4,5,6,7,8 --reaction 0   # all click at once
    python bench/department.py --speedup 50 --overhead 3 --seeds 0-19 --think 10,60
"""

from __future__ import annotations

import argparse
import heapq
import math
import random
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from cnnviz.jobs import JobRunner, JobSettings, Outcome  # noqa: E402
from cnnviz.jobs.devices import Device  # noqa: E402
from cnnviz.jobs.handle import Job  # noqa: E402

# --- durations --------------------------------------------------------------------------------
# This machine's measured figures (README "Benchmarks", `bench/finetune.py`: resnet18 at 224,
# 2 CPU threads, quiet machine):
CPU_FEATURE_S = 4.41 / 200  # one forward pass, per image: "features 4.41" s for 200 images
CPU_TRAIN_S = 1 / 16.6  # one training step, per image: the app's full fine-tune, 16.6 images/s
HEAD_EPOCH = (1.23 - 1) / 10  # a linear probe's head epoch on cached features, in feature
# passes: 10 epochs cost 1.23x one feature-extraction pass
# resnet18's layer3 + layer4 do 45% of its multiply-adds (822 of 1,814 M at 224): the share of
# the backward pass that the last 2 blocks' fine-tune pays (a full forward pass either way).
LAST2_SHARE = 0.45
EPOCHS = 3  # the page's default (cnnviz/train/config.py)
VAL_FRACTION = 0.2
DATASETS = {"digits": 1797, "faces": 200, "textures": 256}  # images (cnnviz/data/builtin.py)

# The GPU (an assumption, stated: no GPU was lent to this project's benches). A GeForce GTX
# 1080 takes 47.07 ms for a resnet18 training step of 16 images at 224 (jcjohnson/
# cnn-benchmarks, cuDNN); this machine takes 16 / 16.6 = 964 ms: 20x. A newer card (A100,
# H100, mixed precision) is several times faster again: `--speedup 100` shows one; 20 is the
# cautious choice (it asks for more GPUs, not fewer).
SPEEDUP = 20.0
# Seconds a run pays whatever the GPU: the model built, the images resized on the server's
# CPU and sent over, cuDNN's first-shape setup. An assumption, not a measurement.
OVERHEAD_S = 1.0


def cpu_seconds(strategy: str, images: int, epochs: int = EPOCHS) -> float:
    """Seconds of one run on this machine's 2 cores at 224, from the measured figures."""
    train = round(images * (1 - VAL_FRACTION))
    val = images - train
    if strategy == "linear":  # features once, then the head's epochs on them
        return images * CPU_FEATURE_S * (1 + epochs * HEAD_EPOCH)
    if strategy == "last":  # full forward, the last 2 blocks' share of the backward
        step = CPU_FEATURE_S + LAST2_SHARE * (CPU_TRAIN_S - CPU_FEATURE_S)
    elif strategy == "full":
        step = CPU_TRAIN_S
    else:
        raise ValueError(f"unknown strategy {strategy!r}")
    return epochs * (train * step + val * CPU_FEATURE_S)


@dataclass(frozen=True)
class Mix:
    """What runs students start and how long they take on one GPU."""

    speedup: float = SPEEDUP
    overhead: float = OVERHEAD_S
    strategies: tuple[tuple[str, float], ...] = (("linear", 0.40), ("last", 0.35), ("full", 0.25))
    data: tuple[tuple[str, float], ...] = (("digits", 0.5), ("faces", 0.25), ("textures", 0.25))

    def seconds(self, strategy: str, data: str) -> float:
        return self.overhead + cpu_seconds(strategy, DATASETS[data]) / self.speedup

    def first(self) -> Run:
        """The page's defaults."""
        return Run("linear/digits", self.seconds("linear", "digits"))

    def later(self, rng: random.Random) -> Run:
        strategy = _draw(rng, self.strategies)
        data = _draw(rng, self.data)
        return Run(f"{strategy}/{data}", self.seconds(strategy, data))


def _draw(rng: random.Random, weighted: Sequence[tuple[str, float]]) -> str:
    names, weights = zip(*weighted, strict=True)
    return rng.choices(names, weights)[0]


# --- who submits what, when -------------------------------------------------------------------
@dataclass(frozen=True)
class Run:
    kind: str
    seconds: float  # on the GPU


@dataclass(frozen=True)
class Student:
    """One browser: its first run is submitted at `arrives`; each next one `thinks[i]` seconds
    after the previous one ended."""

    session: str
    group: str  # the student's class
    arrives: float
    runs: tuple[Run, ...]
    thinks: tuple[float, ...] = ()


@dataclass(frozen=True)
class Lecture:
    name: str
    cue: float  # seconds into the day of "start your run"
    students: int = 40


def _hhmm(hour: int, minute: int) -> float:
    return (hour * 60 + minute) * 60.0


# 10 classes, 90-minute lectures, cue 30 minutes in. Pairs meet at once: A and B cue in the
# same minute, F and G 15 minutes apart, H and I 15 minutes apart, C and D 30 minutes apart.
DAY = tuple(
    Lecture(name, _hhmm(h, m) + 30 * 60)
    for name, (h, m) in {
        "A": (8, 0),
        "B": (8, 0),
        "C": (9, 45),
        "D": (10, 15),
        "E": (11, 30),
        "F": (13, 0),
        "G": (13, 15),
        "H": (14, 45),
        "I": (15, 0),
        "J": (16, 30),
    }.items()
)


def class_students(
    lecture: Lecture,
    rng: random.Random,
    mix: Mix,
    reaction: float = 60.0,
    think: tuple[float, float] = (30.0, 120.0),
) -> list[Student]:
    """A class at its cue: reaction ~ exponential(mean `reaction`), 1-3 runs, think time
    ~ uniform(`think`) between a run's end and the next submit."""
    students = []
    for i in range(lecture.students):
        n = rng.randint(1, 3)
        runs = (mix.first(), *(mix.later(rng) for _ in range(n - 1)))
        thinks = tuple(rng.uniform(*think) for _ in range(n - 1))
        arrives = lecture.cue + (rng.expovariate(1 / reaction) if reaction > 0 else 0.0)
        students.append(Student(f"{lecture.name}{i:03d}", lecture.name, arrives, runs, thinks))
    return students


# --- the simulation ---------------------------------------------------------------------------
POOL = Device("cuda:0", "simulated GPU pool")  # a Device: the runner asks torch for nothing


class Clock:
    """The virtual clock and its events (time, order of scheduling, what to do)."""

    def __init__(self) -> None:
        self.now = 0.0
        self._events: list[tuple[float, int, Callable[[], None]]] = []
        self._order = 0

    def __call__(self) -> float:
        return self.now

    def at(self, when: float, action: Callable[[], None]) -> None:
        self._order += 1
        heapq.heappush(self._events, (when, self._order, action))

    def run(self) -> None:
        while self._events:
            when, _, action = heapq.heappop(self._events)
            self.now = when
            action()


class _Reporter:
    """Never called: a simulated job does no work."""

    def __init__(self, device: str) -> None:
        self.device = device
        self.stop_requested = False

    def __call__(self, **_: object) -> None:
        pass


class SimulatedBackend:
    """The runner's Backend: a job given a slot ends `job.kwargs["seconds"]` later on the
    virtual clock (its `done` then runs in the event loop, as a worker thread's would)."""

    def __init__(self, clock: Clock, ended: Callable[[Job], None]) -> None:
        self.clock = clock
        self.ended = ended

    def reporter(self, job: Job) -> _Reporter:
        return _Reporter(job.device)

    def start(self, job: Job, report: object, done: Callable[[Outcome], None]) -> None:
        def end() -> None:
            done(Outcome(value=None))
            self.ended(job)

        self.clock.at(self.clock.now + job.kwargs["seconds"], end)


def gpu_run(*, report: object, seconds: float) -> None:
    """The job function the runner is given (never called: the backend simulates it)."""


class FairShareRunner(JobRunner):
    """The runner with one change: when a slot frees up, the queued job that starts is the one
    whose session has had the least GPU time so far (the seconds its jobs have run, a running
    one up to now), ties in submission order (among sessions with equal use it is FIFO)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._started: dict[str, list[Job]] = defaultdict(list)

    def used(self, session: str, now: float) -> float:
        return sum(j.elapsed(now) for j in self._started[session])

    def _take_slots(self, key: str, now: float) -> list[Job]:
        queue = self._queues.get(key)
        if queue:  # a stable sort: equal use keeps the queue's (submission) order
            ordered = sorted(queue, key=lambda j: self.used(j.session, now))
            queue.clear()
            queue.extend(ordered)
        starting = super()._take_slots(key, now)
        for job in starting:
            self._started[job.session].append(job)
        return starting


@dataclass
class Record:
    session: str
    group: str
    kind: str
    seconds: float
    submitted: float
    started: float = math.nan
    ended: float = math.nan

    @property
    def wait(self) -> float:
        return self.started - self.submitted


@dataclass
class Result:
    records: list[Record]
    slots: int
    groups: list[str] = field(default_factory=list)

    def waits(self, group: str | None = None) -> list[float]:
        return [r.wait for r in self.records if group is None or r.group == group]

    def utilization(self) -> float:
        """Busy GPU-seconds / (slots x (last end - first submit))."""
        span = max(r.ended for r in self.records) - min(r.submitted for r in self.records)
        return sum(r.seconds for r in self.records) / (self.slots * span)

    def busiest_hour(self) -> float:
        """Busy GPU-seconds in the busiest clock hour (on the hour) / (slots x 3600)."""
        busy: dict[int, float] = defaultdict(float)
        for r in self.records:
            hour = int(r.started // 3600)
            while hour * 3600 < r.ended:
                lo, hi = max(r.started, hour * 3600), min(r.ended, (hour + 1) * 3600)
                busy[hour] += hi - lo
                hour += 1
        return max(busy.values()) / (self.slots * 3600)

    def class_p95(self) -> dict[str, float]:
        return {g: percentile(self.waits(g), 95) for g in self.groups}

    def worst_class_p95(self) -> float:
        return max(percentile(self.waits(g), 95) for g in self.groups)


POLICIES = ("fifo", "fair", "split")


def replay(
    students: Iterable[Student],
    gpus: int,
    policy: str = "fifo",
    settings: JobSettings | None = None,
    seed: int = 0,
) -> Result:
    """Every student's runs through the runner(s) on `gpus` GPUs: "fifo" (the runner as it
    is, one queue with `gpus` slots), "fair" (FairShareRunner) or "split" (one runner of one
    slot per GPU, each student bound to one at random with `seed`)."""
    if policy not in POLICIES:
        raise ValueError(f"policy must be one of {POLICIES}")
    students = list(students)
    clock = Clock()
    records: dict[str, Record] = {}  # by job id
    then: dict[str, Callable[[], None]] = {}  # by job id: the student's next submit

    def ended(job: Job) -> None:
        record = records[job.id]
        record.started, record.ended = job.started_at, job.ended_at
        if job.id in then:
            then.pop(job.id)()

    backend = SimulatedBackend(clock, ended)
    base = settings or JobSettings()
    # Finished jobs freed at once: nobody looks at a simulated result, and it keeps the
    # runner's per-submit scan short. Queueing is unchanged by it.
    per_runner = 1 if policy == "split" else gpus
    runner_settings = JobSettings(
        per_device=per_runner * base.per_device,
        idle_seconds=0.0,
        per_session=base.per_session,
        cpu_threads=1,
    )
    kind = FairShareRunner if policy == "fair" else JobRunner
    runners = [
        kind(runner_settings, backend=backend, clock=clock)
        for _ in range(gpus if policy == "split" else 1)
    ]
    bind = random.Random(seed)
    slots = per_runner * base.per_device * len(runners)

    def submit(student: Student, runner: JobRunner, i: int) -> None:
        run = student.runs[i]
        handle = runner.submit(gpu_run, session=student.session, device=POOL, seconds=run.seconds)
        records[handle.id] = Record(
            student.session, student.group, run.kind, run.seconds, clock.now
        )
        if i + 1 < len(student.runs):
            then[handle.id] = lambda: clock.at(
                clock.now + student.thinks[i], lambda: submit(student, runner, i + 1)
            )

    for student in students:
        runner = runners[bind.randrange(len(runners))]
        clock.at(student.arrives, lambda s=student, r=runner: submit(s, r, 0))
    clock.run()
    groups = sorted({s.group for s in students})
    return Result(list(records.values()), slots, groups)


def percentile(values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    pos = (len(ordered) - 1) * q / 100
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


# --- scenarios and tables ---------------------------------------------------------------------
def scenario_students(
    name: str, seed: int, mix: Mix, reaction: float, think: tuple[float, float]
) -> list[Student]:
    """ "day": the department day; "classN": one class of N students at one cue."""
    rng = random.Random(seed)
    if name == "day":
        return [s for lec in DAY for s in class_students(lec, rng, mix, reaction, think)]
    n = int(name.removeprefix("class"))
    return class_students(Lecture("X", 0.0, n), rng, mix, reaction, think)


@dataclass
class Summary:
    p50: list[float] = field(default_factory=list)
    p95: list[float] = field(default_factory=list)
    max: list[float] = field(default_factory=list)
    util: list[float] = field(default_factory=list)
    hour: list[float] = field(default_factory=list)  # the busiest hour's utilization
    class_p95: list[float] = field(default_factory=list)  # the worst class's p95
    each_class: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    runs: list[int] = field(default_factory=list)


def measure(
    name: str,
    gpus: int,
    policy: str,
    seeds: Sequence[int],
    mix: Mix,
    reaction: float,
    think: tuple[float, float],
) -> Summary:
    summary = Summary()
    for seed in seeds:
        result = replay(
            scenario_students(name, seed, mix, reaction, think), gpus, policy, seed=seed
        )
        waits = result.waits()
        summary.p50.append(percentile(waits, 50))
        summary.p95.append(percentile(waits, 95))
        summary.max.append(max(waits))
        summary.util.append(result.utilization())
        summary.hour.append(result.busiest_hour())
        for group, p95 in result.class_p95().items():
            summary.each_class[group].append(p95)
        summary.class_p95.append(result.worst_class_p95())
        summary.runs.append(len(waits))
    return summary


def spread(values: Sequence[float], digits: int = 0, scale: float = 1.0) -> str:
    mean = statistics.fmean(values) * scale
    lo, hi = min(values) * scale, max(values) * scale
    return f"{mean:.{digits}f} ({lo:.{digits}f}-{hi:.{digits}f})"


def needed(
    table: dict[tuple[str, int, str], Summary], name: str, policy: str, gpu_counts: Sequence[int]
) -> str:
    """The fewest GPUs for which the class p95 wait is under 30 s: in the mean over seeds,
    and (in brackets) in every seed."""
    mean_ok = every_ok = None
    for gpus in gpu_counts:
        values = table[(name, gpus, policy)].class_p95
        if mean_ok is None and statistics.fmean(values) < 30:
            mean_ok = gpus
        if every_ok is None and max(values) < 30:
            every_ok = gpus
    top = f"> {max(gpu_counts)}"
    return f"{mean_ok or top} ({every_ok or top})"


def _seeds(text: str) -> list[int]:
    if "-" in text:
        lo, hi = text.split("-")
        return list(range(int(lo), int(hi) + 1))
    return [int(s) for s in text.split(",")]


SCENARIOS = ("class20", "class40", "class80", "day")
WORDS = {
    "class20": "a class of 20 at one cue",
    "class40": "a class of 40 at one cue",
    "class80": "a class of 80 at one cue (two classes cued together)",
    "day": "the department day (its worst class)",
}


def tables(
    mix: Mix,
    seeds: Sequence[int],
    gpu_counts: Sequence[int],
    reaction: float,
    think: tuple[float, float],
) -> dict[tuple[str, int, str], Summary]:
    return {
        (name, gpus, policy): measure(name, gpus, policy, seeds, mix, reaction, think)
        for name in SCENARIOS
        for gpus in gpu_counts
        for policy in POLICIES
    }


def print_details(table: dict[tuple[str, int, str], Summary], gpu_counts: Sequence[int]) -> None:
    for name in SCENARIOS:
        runs = statistics.fmean(table[(name, gpu_counts[0], "fifo")].runs)
        title = "Department day, 10 classes of 40" if name == "day" else f"One class of {name[5:]}"
        print(f"\n{title} ({runs:.0f} runs); queue wait in s, mean over seeds (min-max)\n")
        print(
            "| GPUs | policy | p50 | p95 | max | worst class p95 | "
            "GPU utilization % (busiest hour %) |"
        )
        print("| ---: | --- | ---: | ---: | ---: | ---: | ---: |")
        for gpus in gpu_counts:
            for policy in POLICIES:
                s = table[(name, gpus, policy)]
                hour = statistics.fmean(s.hour) * 100
                print(
                    f"| {gpus} | {policy} | {spread(s.p50, 1)} | {spread(s.p95)} | "
                    f"{spread(s.max)} | {spread(s.class_p95)} | "
                    f"{spread(s.util, 0, 100)} ({hour:.0f}) |"
                )
    print("\nDepartment day: each class's p95 wait in s (mean over seeds), FIFO / fair share\n")
    groups = [lec.name for lec in DAY]
    cues = {lec.name: lec.cue for lec in DAY}
    print("| GPUs | " + " | ".join(f"{g} {_clock_text(cues[g])}" for g in groups) + " |")
    print("| ---: |" + " ---: |" * len(groups))
    for gpus in gpu_counts:
        fifo, fair = table[("day", gpus, "fifo")], table[("day", gpus, "fair")]
        cells = [
            f"{statistics.fmean(fifo.each_class[g]):.0f} / "
            f"{statistics.fmean(fair.each_class[g]):.0f}"
            for g in groups
        ]
        print(f"| {gpus} | " + " | ".join(cells) + " |")


def _clock_text(seconds: float) -> str:
    minutes = int(seconds // 60)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def print_needed(
    by_speedup: dict[float, dict[tuple[str, int, str], Summary]], gpu_counts: Sequence[int]
) -> None:
    print(
        "\nGPUs needed for a class's p95 wait under 30 s: mean over seeds (in every seed); "
        "FIFO / fair share / one process per GPU\n"
    )
    speedups = list(by_speedup)
    print("| who starts | " + " | ".join(f"GPU {x:g}x this machine" for x in speedups) + " |")
    print("| --- |" + " --- |" * len(speedups))
    for name in SCENARIOS:
        cells = [
            " / ".join(needed(by_speedup[x], name, p, gpu_counts) for p in POLICIES)
            for x in speedups
        ]
        print(f"| {WORDS[name]} | " + " | ".join(cells) + " |")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=_seeds, default=_seeds("0-9"), help="e.g. 0-9 or 1,2")
    parser.add_argument("--gpus", default="1,2,4,8")
    parser.add_argument(
        "--speedup",
        default=f"{SPEEDUP:g},100",
        help="GPU vs this machine's 2 cores; the first gets the detailed tables",
    )
    parser.add_argument("--overhead", type=float, default=OVERHEAD_S, help="s per run on a GPU")
    parser.add_argument("--reaction", type=float, default=60.0, help="mean s to the first run")
    parser.add_argument("--think", default="30,120", help="s between runs: uniform low,high")
    args = parser.parse_args(argv)
    gpu_counts = [int(g) for g in args.gpus.split(",")]
    speedups = [float(x) for x in args.speedup.split(",")]
    lo, hi = (float(x) for x in args.think.split(","))
    think = (lo, hi)
    t0 = time.perf_counter()

    first = Mix(speedup=speedups[0], overhead=args.overhead)
    print(
        f"{len(args.seeds)} seeds; reaction exp(mean {args.reaction:g} s); think "
        f"uniform({lo:g}, {hi:g}) s; a run on one GPU = {args.overhead:g} s + this machine's "
        f"seconds / speedup\n"
    )
    print(
        "| run (3 epochs, resnet18, 224 px) | this machine, s | "
        + " | ".join(f"GPU {x:g}x, s" for x in speedups)
        + " |"
    )
    print("| --- | ---: |" + " ---: |" * len(speedups))
    for strategy in ("linear", "last", "full"):
        for data in DATASETS:
            cpu = cpu_seconds(strategy, DATASETS[data])
            gpu = " | ".join(
                f"{Mix(speedup=x, overhead=args.overhead).seconds(strategy, data):.1f}"
                for x in speedups
            )
            print(f"| {strategy} / {data} | {cpu:.1f} | {gpu} |")

    by_speedup = {
        x: tables(
            Mix(speedup=x, overhead=args.overhead), args.seeds, gpu_counts, args.reaction, think
        )
        for x in speedups
    }
    print(f"\nDetails at {first.speedup:g}x:")
    print_details(by_speedup[speedups[0]], gpu_counts)
    print_needed(by_speedup, gpu_counts)
    print(f"\n{time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
