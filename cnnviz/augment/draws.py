"""N seeded random draws of a pipeline on one image, and what every step drew on each.

Each step runs as v2's own `forward` does, split in two: `make_params` draws the random
parameters, `transform(image, params)` applies them. The recorded parameters are therefore the
ones applied, and the random numbers are consumed in the same order as `pipeline(image)`: with
the same seed, the draws equal `[pipeline(image) for _ in range(n)]` (tests check both).
The automatic policies draw inside `forward`; their chosen operations are recorded by
listening to the one method every policy applies an operation with.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torchvision.transforms import v2

# Private, but the only way to know a transform fires with probability p before drawing its
# parameters (torchvision 0.29); tests compare every draw with v2's own forward.
from torchvision.transforms.v2._auto_augment import _AutoAugmentBase
from torchvision.transforms.v2._transform import _RandomApplyTransform

from cnnviz.augment import limits
from cnnviz.augment.pipeline import Step, build
from cnnviz.errors import OutOfBounds
from cnnviz.jobs.devices import cpu_threads

# torchvision draws from torch's global generator: one pipeline's draws at a time, on a forked
# state, so a student's seed gives the same grid whoever else is drawing at that moment.
_LOCK = threading.Lock()


@dataclass(frozen=True)
class Draw:
    """One augmented copy of the image and, per step, what the step drew (a short phrase)."""

    image: torch.Tensor  # C x H x W uint8
    drawn: tuple[str, ...]
    # Per step, the parameters applied: make_params' dict, with "fired" for the steps that
    # fire with probability p (flips, perspective, grayscale, erasing), {"ops": [(name,
    # magnitude), ...]} for a policy.
    params: tuple[dict[str, Any], ...] = ()

    def caption(self) -> str:
        return " · ".join(self.drawn) if self.drawn else "no steps: the original"


def _deg(x: float) -> str:
    return f"{x:+.1f}°"


def _perspective_shift(coefficients: Sequence[float], height: int, width: int) -> float:
    """Largest corner displacement in pixels. The coefficients map an output pixel back to
    its input pixel, so the corners' new places are the inverse map of the old corners."""
    a, b, c, d, e, f, g, h = coefficients
    inverse = np.linalg.inv(np.array([[a, b, c], [d, e, f], [g, h, 1.0]]))
    corners = np.array(
        [[0, 0, 1], [width - 1, 0, 1], [width - 1, height - 1, 1], [0, height - 1, 1]]
    )
    moved = corners @ inverse.T
    moved = moved[:, :2] / moved[:, 2:]
    return float(np.abs(moved - corners[:, :2]).max())


def _elastic_shift(params: dict[str, Any], image: torch.Tensor) -> float:
    """Largest displacement in pixels: the field is in grid units, where a side spans 2."""
    height, width = image.shape[-2:]
    field = params["displacement"]  # 1 x H x W x 2, (x, y)
    return float((field * torch.tensor([width / 2, height / 2])).abs().max())


def _jitter(params: dict[str, Any]) -> str:
    names = ("brightness", "contrast", "saturation", "hue")
    parts = [
        f"{names[i][0:3]} {params[f'{names[i]}_factor']:.2f}"
        for i in params["fn_idx"].tolist()
        if params[f"{names[i]}_factor"] is not None
    ]
    return "jitter " + ", ".join(parts) if parts else "jitter: nothing to change"


def _affine(params: dict[str, Any], t: v2.RandomAffine) -> str:
    """Only the parts the transform varies (a 0-degree range draws a meaningless -0.0)."""
    parts = []
    if t.degrees[0] != t.degrees[1]:
        parts.append(f"rotated {_deg(params['angle'])}")
    if t.translate is not None and any(t.translate):
        dx, dy = params["translate"]
        parts.append(f"shifted {dx:+d},{dy:+d} px")
    if t.scale is not None and t.scale[0] != t.scale[1]:
        parts.append(f"scaled {params['scale']:.2f}")
    if t.shear is not None and t.shear[0] != t.shear[1]:
        parts.append(f"sheared {_deg(params['shear'][0])}")
    return "affine: " + (", ".join(parts) or "unchanged")


def _op(transform_id: str, magnitude: float) -> str:
    """A policy's operation as a student reads it: degrees, pixels, bits or a factor."""
    if transform_id in _NO_MAGNITUDE:
        return transform_id
    if transform_id == "Rotate":
        return f"Rotate {_deg(magnitude)}"
    if transform_id.startswith("Translate"):
        return f"{transform_id} {int(magnitude):+d} px"
    if transform_id == "Posterize":
        return f"Posterize {int(magnitude)} bits"
    if transform_id == "Solarize":
        return f"Solarize above {magnitude:.0%}"
    return f"{transform_id} {magnitude:+.2f}".replace("-0.00", "0.00").replace("+0.00", "0.00")


# What a transform class drew, from its make_params result, the image it got and the transform.
Describe = Callable[[dict[str, Any], torch.Tensor, v2.Transform], str]
_DESCRIBE: dict[type, Describe] = {
    v2.RandomHorizontalFlip: lambda p, x, t: "flipped left-right",
    v2.RandomVerticalFlip: lambda p, x, t: "flipped upside down",
    v2.RandomRotation: lambda p, x, t: f"rotated {_deg(p['angle'])}",
    v2.RandomResizedCrop: lambda p, x, t: (
        f"crop {p['width']}x{p['height']} at ({p['left']}, {p['top']}) → {t.size[1]}x{t.size[0]}"
    ),
    v2.RandomAffine: lambda p, x, t: _affine(p, t),
    v2.RandomPerspective: lambda p, x, t: (
        f"perspective: corners moved ≤ {_perspective_shift(p['coefficients'], *x.shape[-2:]):.0f}"
        " px"
    ),
    v2.ElasticTransform: lambda p, x, t: f"elastic: pixels moved ≤ {_elastic_shift(p, x):.1f} px",
    v2.ColorJitter: lambda p, x, t: _jitter(p),
    v2.RandomGrayscale: lambda p, x, t: "grayscale",
    v2.GaussianBlur: lambda p, x, t: f"blur σ={p['sigma'][0]:.2f} px",
    v2.GaussianNoise: lambda p, x, t: f"noise σ={t.sigma:g} (new noise each draw)",
    v2.RandomErasing: lambda p, x, t: (
        f"erased {p['w']}x{p['h']} at ({p['j']}, {p['i']})" if p["v"] is not None else "not erased"
    ),
}
_NOT_FIRED: dict[type, str] = {
    v2.RandomHorizontalFlip: "not flipped",
    v2.RandomVerticalFlip: "not flipped",
    v2.RandomPerspective: "no perspective",
    v2.RandomGrayscale: "in color",
    v2.RandomErasing: "not erased",
}


Applied = tuple[torch.Tensor, str, dict[str, Any]]  # the image, what was drawn, the params


def _policy_ops(transform: _AutoAugmentBase, image: torch.Tensor) -> Applied:
    """Run a policy's own forward, listening to each operation it applies."""
    applied: list[tuple[str, float]] = []
    apply_op = transform._apply_image_or_video_transform

    def listen(img: Any, transform_id: str, magnitude: float, **kw: Any) -> Any:
        applied.append((transform_id, magnitude))
        return apply_op(img, transform_id, magnitude, **kw)

    transform._apply_image_or_video_transform = listen  # type: ignore[method-assign]
    try:
        out = transform(image)
    finally:
        del transform._apply_image_or_video_transform
    name = type(transform).__name__
    ops = [_op(*op) for op in applied]
    if isinstance(transform, v2.AugMix):
        return out, f"{name}: mixed {len(ops)} ops ({', '.join(ops)})", {"ops": applied}
    return out, f"{name}: {', '.join(ops) or 'no op'}", {"ops": applied}


_NO_MAGNITUDE = {"Identity", "AutoContrast", "Equalize", "Invert"}


def _check_fits(transform: v2.Transform, image: torch.Tensor) -> None:
    """OutOfBounds for a blur wider than the image: torch pads by reflection, which needs the
    kernel's half width below the image's side (the elastic field is blurred with 8 sigma + 1)."""
    height, width = image.shape[-2:]
    side = min(height, width)
    if isinstance(transform, v2.GaussianBlur):
        half, what = transform.kernel_size[0] // 2, f"A blur kernel of {transform.kernel_size[0]}"
        fix = f"Use a kernel of at most {2 * side - 1}"
    elif isinstance(transform, v2.ElasticTransform):
        sigma = transform.sigma[0]
        half, what = int(8 * sigma + 1) // 2, f"An elastic smoothness (sigma) of {sigma:g}"
        fix = f"Use a sigma under {side / 4:g}"
    else:
        return
    if half >= side:
        raise OutOfBounds(
            f"{what} needs an image of at least {half + 1} pixels on each side; the image is "
            f"{width}x{height} at this step.",
            f"{fix}, or a larger image (or crop size) before this step.",
        )


def apply_step(transform: v2.Transform, image: torch.Tensor) -> Applied:
    """One step on one image, as transform(image) would run it: the image, what it drew (a
    phrase) and the parameters applied."""
    if isinstance(transform, _AutoAugmentBase):
        return _policy_ops(transform, image)
    kind = type(transform)
    _check_fits(transform, image)
    transform.check_inputs([image])
    fires = isinstance(transform, _RandomApplyTransform)
    if fires and torch.rand(1) >= transform.p:
        return image, _NOT_FIRED.get(kind, f"{kind.__name__} skipped"), {"fired": False}
    params = transform.make_params([image])
    out = transform.transform(image, params)
    describe = _DESCRIBE.get(kind)
    what = describe(params, image, transform) if describe else kind.__name__
    return out, what, {"fired": True, **params} if fires else params


def draw(image: torch.Tensor, steps: Sequence[Step], n: int = 6, seed: int = 0) -> list[Draw]:
    """`n` draws of the pipeline on `image` (C x H x W uint8), seeded: the same as
    `torch.manual_seed(seed); [pipeline(image) for _ in range(n)]`, with each step's draw."""
    n = limits.DRAWS.check(n)
    seed = limits.SEED.check(seed)
    if image.dtype != torch.uint8 or image.ndim != 3:
        raise TypeError(
            f"draw takes a C x H x W uint8 image, not {image.dtype} {tuple(image.shape)}"
        )
    pipeline = build(steps)
    transforms = pipeline.transforms if steps else []  # no step: the original, as it is
    draws = []
    with _LOCK, torch.random.fork_rng(devices=[]), cpu_threads(1):
        torch.manual_seed(seed)
        for _ in range(n):
            x, drawn, applied = image, [], []
            for transform in transforms:
                x, what, params = apply_step(transform, x)
                drawn.append(what)
                applied.append(params)
            draws.append(Draw(x, tuple(drawn), tuple(applied)))
    return draws
