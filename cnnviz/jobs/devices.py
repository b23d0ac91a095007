"""Where a job runs: CUDA when torch sees a GPU (shown by its name), else the CPU.

The runner keeps one set of slots per device key ("cuda:0", "cpu"), so a class sharing one GPU
queues on it while nothing stops a teacher from pinning a job to the CPU.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache

from cnnviz.errors import UnknownDevice


@dataclass(frozen=True)
class Device:
    """One device jobs can run on: `key` is what torch takes ("cuda:0", "cpu")."""

    key: str
    name: str

    @property
    def is_cuda(self) -> bool:
        return self.key.startswith("cuda")

    def __str__(self) -> str:
        return f"{self.name} ({self.key})"


CPU = Device("cpu", "CPU")


@cache
def available() -> tuple[Device, ...]:
    """Every CUDA device torch sees (by name), then the CPU; asked once per process."""
    import torch  # here, not at the top: only the runner's first submit pays for it

    gpus = tuple(
        Device(f"cuda:{i}", torch.cuda.get_device_name(i))
        for i in range(torch.cuda.device_count() if torch.cuda.is_available() else 0)
    )
    return (*gpus, CPU)


def default() -> Device:
    """The first GPU when there is one, else the CPU."""
    return available()[0]


def resolve(device: str | Device | None) -> Device:
    """A device from what a caller passes: None (the default), "cpu", "cuda", "cuda:1"..."""
    if isinstance(device, Device):
        return device
    if device is None:
        return default()
    key = "cuda:0" if device == "cuda" else device
    for known in available():
        if known.key == key:
            return known
    names = ", ".join(d.key for d in available())
    raise UnknownDevice(
        f"There is no device {device!r} on this server: it has {names}.",
        f"Use one of {names}.",
    )


def name_of(key: str) -> str:
    """A device key's name for a sentence: this process's device by its name, else what the
    key says (a Ray cluster's GPU, "cuda", that this process does not see)."""
    for known in available():
        if known.key == key:
            return known.name
    return "GPU" if key.startswith("cuda") else key


@contextmanager
def cpu_threads(n: int) -> Iterator[None]:
    """torch's intra-op threads for the calling thread's work, put back after. OpenMP's count
    belongs to the calling thread, so other sessions keep theirs. One thread is what small work
    on a busy 2-core server wants: two wait on each other, and a layer's effective field or the
    augmentation page's draws took ten times longer or more under load (bench/README.md)."""
    import torch  # only where torch work runs: the job runner itself needs no torch

    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
