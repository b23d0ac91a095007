"""The model randomization test of Adebayo et al. 2018 ("Sanity Checks for Saliency Maps"),
cascading: re-initialize the weights block by block from the output towards the input and,
after each step, compare every method's map with the trained model's map by Spearman rank
correlation. A map that stays the same while the model is destroyed explains the image (its
edges), not the model.

The randomized network is a copy made once per request (under the borrowed model's lock):
never the shared model, whose weights must stay exactly as found. The random weights come
from a local torch.Generator seeded by Params.seed (the global RNG is left alone), SmoothGrad's
noise too: the same seed, the same result. The "original" step compares the trained model's
maps with the copy's before any randomization: 1.0 exactly when the maps are reproducible.

`verdicts` says which methods pass (|rho| below PASS_BELOW once every block is random) and
which stay similar, for the page's text.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
from scipy.stats import spearmanr
from torch import nn

from cnnviz.explain import attribution
from cnnviz.explain.attribution import Params
from cnnviz.explain.feature_maps import default_layer, spatial_layers
from cnnviz.explain.models import Explained

PASS_BELOW = 0.2  # |rho| once every block is random: the map no longer resembles the original
PICTURE_SIDE = 64  # the maps kept for the page's grid: at most 64 x 64


@dataclass(frozen=True)
class SanityResult:
    steps: list[str]  # "original", then the block randomized at each step (cumulative)
    correlations: dict[str, list[float | None]]  # method -> one value per step (None: undefined)
    target: int
    # method -> one heatmap per step (attribution.heatmap, at most PICTURE_SIDE square)
    pictures: dict[str, list[np.ndarray]] = field(default_factory=dict)
    seed: int = 0


@dataclass(frozen=True)
class Verdict:
    method: str
    final: float | None  # rho once every block is random (None: the map went constant)
    passes: bool  # |final| < PASS_BELOW, or a map that went blank


def verdicts(result: SanityResult, threshold: float = PASS_BELOW) -> dict[str, Verdict]:
    """Per method: its rank correlation once the whole network is random, and whether it
    passes (|rho| < threshold: the map changed with the model) or stays similar (it draws the
    image rather than the model). A map that went constant (rho undefined) passes."""
    out = {}
    for m, values in result.correlations.items():
        final = values[-1] if len(values) > 1 else None
        out[m] = Verdict(m, final, final is None or abs(final) < threshold)
    return out


def blocks(net: nn.Module) -> list[tuple[str, list[nn.Module]]]:
    """Modules with their own weights, grouped by block (the first two parts of their path:
    ResNet's layer4.1, LeNet-5's c5), from the output back to the input."""
    groups: dict[str, list[nn.Module]] = {}
    for name, m in net.named_modules():
        if any(True for _ in m.parameters(recurse=False)):
            groups.setdefault(".".join(name.split(".")[:2]), []).append(m)
    return list(reversed(groups.items()))


def randomize(m: nn.Module, generator: torch.Generator) -> None:
    """Re-initialize one module's weights, every draw from `generator`: convolutions and linear
    layers as their reset_parameters does (Kaiming uniform, bias within 1/sqrt(fan_in)),
    batch norm's scale N(1, 0.5) and shift N(0, 0.5), anything else a normal draw with the
    weights' standard deviation."""
    with torch.no_grad():
        if isinstance(m, (nn.modules.conv._ConvNd, nn.Linear)):
            nn.init.kaiming_uniform_(m.weight, a=math.sqrt(5), generator=generator)
            if m.bias is not None:
                fan_in, _ = nn.init._calculate_fan_in_and_fan_out(m.weight)
                bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
                m.bias.uniform_(-bound, bound, generator=generator)
            return
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            if m.weight is not None:
                m.weight.normal_(1.0, 0.5, generator=generator)
            if m.bias is not None:
                m.bias.normal_(0.0, 0.5, generator=generator)
            return
        for p in m.parameters(recurse=False):
            p.normal_(0.0, float(p.std()) if p.numel() > 1 else 1.0, generator=generator)


def rank_correlation(a: np.ndarray, b: np.ndarray) -> float | None:
    """Spearman's rho of the two maps' magnitudes (None where one map is constant)."""
    x, y = np.abs(a).ravel(), np.abs(b).ravel()
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return 1.0 if np.array_equal(x, y) else None
    return float(spearmanr(x, y).statistic)


@contextmanager
def _copy_of(model: Explained):
    with model.borrow() as net:
        twin = copy.deepcopy(net)  # under the lock: a consistent copy, never the shared one
    yield twin


def verdict_text(result: SanityResult, names: dict[str, str] | None = None) -> str:
    """The lesson in Markdown, from this run's numbers: which methods pass (|rho| below
    PASS_BELOW once every block is random) and which stay similar, each with its rho; `names`:
    the methods' display names."""
    found = verdicts(result)

    def named(v: Verdict) -> str:
        rho = "its map went blank" if v.final is None else f"rho {v.final:.2f}"
        return f"{(names or {}).get(v.method, v.method)} ({rho})"

    passed = [named(v) for v in found.values() if v.passes]
    similar = [named(v) for v in found.values() if not v.passes]
    limit = f"{PASS_BELOW:g}"
    lines = [
        "**A method whose map barely changes explains the image, not the model.** It behaves "
        "like an edge detector: it would draw much the same picture for any network."
    ]
    if passed:
        lines.append(
            f"**Pass** (|rho| below {limit} once every block is random, seed {result.seed}): "
            + ", ".join(passed) + "."
        )  # fmt: skip
    if similar:
        lines.append(
            f"**Stay similar** (|rho| still {limit} or more with every block random): "
            + ", ".join(similar) + ". Their maps follow the image more than the weights."
        )  # fmt: skip
    return "\n\n".join(lines)


def picture(attr: attribution.Attribution, side: int) -> np.ndarray:
    """The map as the page shows it (attribution.heatmap), at most PICTURE_SIDE square."""
    heat = torch.from_numpy(attribution.heatmap(attr, side))[None, None]
    if side > PICTURE_SIDE:
        heat = torch.nn.functional.adaptive_avg_pool2d(heat, PICTURE_SIDE)
    return heat[0, 0].numpy().astype(np.float32)


def cascading_randomization(
    model: Explained,
    x: torch.Tensor,
    methods: list[str],
    params: Params | None = None,
    target: int | None = None,
    *,
    report: Callable[..., Any] | None = None,
) -> SanityResult:
    """Randomize block by block from the top, drawing from a generator seeded by params.seed;
    each method's map and rank correlation with the trained model's map per step (the first:
    the untouched copy, 1.0 when the maps are reproducible)."""
    p = (params or Params()).checked(x.shape[-1])
    if "gradcam" in methods and p.layer is None:
        p = replace(p, layer=default_layer(spatial_layers(model, x)))
    side = x.shape[-1]
    original = attribution.explain_all(model, x, target, methods, p)
    index = next(iter(original.values())).target if original else 0
    with _copy_of(model) as twin:
        for q in twin.parameters():
            q.requires_grad_(False)
        private = _private(model, twin)
        groups = blocks(twin)
        generator = torch.Generator().manual_seed(p.seed)
        steps: list[str] = []
        correlations: dict[str, list[float | None]] = {m: [] for m in methods}
        pictures: dict[str, list[np.ndarray]] = {m: [] for m in methods}
        for i, (name, modules) in enumerate([("original", []), *groups]):
            if report is not None:
                report(step=i, total=len(groups) + 1, message=f"Randomizing {name}" if i else
                       "The trained model's maps")  # fmt: skip
            for m in modules:
                randomize(m, generator)
            maps = attribution.explain_all(private, x, index, methods, p)
            steps.append(name)
            for method in methods:
                correlations[method].append(rank_correlation(original[method].map,
                                                             maps[method].map))  # fmt: skip
                pictures[method].append(picture(maps[method], side))
        if report is not None:
            report(step=len(groups) + 1, total=len(groups) + 1, message="Done")
    return SanityResult(steps, correlations, index, pictures, p.seed)


def _private(model: Explained, net: nn.Module) -> Explained:
    """`model`'s classes and preprocessing around this request's own network."""

    @contextmanager
    def borrow():
        yield net

    # No spec: this network exists in this request alone (a job never names it).
    return replace(model, key=f"{model.key}:randomized", _borrow=borrow, _spec=None)
