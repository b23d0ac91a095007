"""The Python code that builds the same pipeline and the same draws, for students to copy."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Any

from torchvision.transforms import v2

from cnnviz.augment import limits
from cnnviz.augment.pipeline import Step, validate


def literal(value: Any) -> str:
    """`value` as Python source under `from torchvision.transforms import v2`."""
    if isinstance(value, v2.InterpolationMode):
        return f"v2.InterpolationMode.{value.name}"
    if isinstance(value, v2.AutoAugmentPolicy):
        return f"v2.AutoAugmentPolicy.{value.name}"
    if isinstance(value, enum.Enum):
        raise TypeError(f"no literal for {value!r}")
    if isinstance(value, tuple):
        return "(" + ", ".join(literal(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    return repr(value)


def step_code(step: Step) -> str:
    """One step as its v2 constructor call, e.g. `v2.RandomRotation(degrees=30.0, ...)`."""
    kwargs = step.spec.kwargs(step.value_dict())
    args = ", ".join(f"{k}={literal(v)}" for k, v in kwargs.items())
    return f"v2.{step.spec.cls}({args})"


def pipeline_code(steps: Sequence[Step], n: int = 6, seed: int = 0) -> str:
    """A self-contained script: the pipeline as a v2.Compose, then `n` seeded draws of it on
    `image` (a C x H x W uint8 tensor the reader provides)."""
    steps = validate(steps)
    n, seed = limits.DRAWS.check(n), limits.SEED.check(seed)
    lines = ["import torch", "from torchvision.transforms import v2", "", "pipeline = v2.Compose(["]
    lines += [f"    {step_code(s)}," for s in steps] or ["    v2.Identity(),  # no step yet"]
    lines += [
        "])",
        "",
        "# image: a 3 x H x W uint8 tensor, e.g. torchvision.io.decode_image('photo.jpg')",
        f"torch.manual_seed({seed})",
        f"draws = [pipeline(image) for _ in range({n})]",
    ]
    return "\n".join(lines) + "\n"
