"""Helpers for the cnnviz.train tests: tiny datasets, a reporter that records, one CPU thread
(two OpenMP threads on a loaded 2-core machine spin against each other: 10x slower)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import torch

from cnnviz.data import ImageDataset


def tiny(n_per_class: int = 6, classes: int = 2, side: int = 16, seed: int = 0) -> ImageDataset:
    """Random images whose class shifts their brightness (learnable, so a loss can fall)."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(classes).repeat_interleave(n_per_class)
    base = torch.randint(0, 96, (labels.numel(), 3, side, side), generator=g)
    images = (base + labels.view(-1, 1, 1, 1) * (160 // max(classes - 1, 1))).clamp(0, 255)
    return ImageDataset(
        images=images.to(torch.uint8), labels=labels, classes=[f"c{k}" for k in range(classes)]
    )


class Recorder:
    """A `report` that keeps every call; stops (raises nothing itself) when told."""

    device = "cpu"

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.stop_requested = False

    def __call__(self, **kw: Any) -> None:
        self.calls.append(kw)

    def metrics(self) -> list[dict[str, Any]]:
        return [c["metrics"] for c in self.calls if c.get("metrics") is not None]


@pytest.fixture
def one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
