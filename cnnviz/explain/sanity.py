"""The model randomization test of Adebayo et al. 2018 ("Sanity Checks for Saliency Maps"),
cascading: re-initialize the weights block by block from the output towards the input and,
after each step, compare every method's map with the trained model's map by Spearman rank
correlation. A map that stays the same while the model is destroyed explains the image (its
edges), not the model.

The randomized network is a copy made once per request (under the borrowed model's lock):
never the shared model, whose weights must stay exactly as found.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from scipy.stats import spearmanr
from torch import nn

from cnnviz.explain import attribution
from cnnviz.explain.attribution import METHODS, Params
from cnnviz.explain.feature_maps import default_layer, spatial_layers
from cnnviz.explain.models import Explained


@dataclass(frozen=True)
class SanityResult:
    steps: list[str]  # "original", then the block randomized at each step (cumulative)
    correlations: dict[str, list[float | None]]  # method -> one value per step (None: undefined)
    target: int


def blocks(net: nn.Module) -> list[tuple[str, list[nn.Module]]]:
    """Modules with their own weights, grouped by block (the first two parts of their path:
    ResNet's layer4.1, LeNet-5's c5), from the output back to the input."""
    groups: dict[str, list[nn.Module]] = {}
    for name, m in net.named_modules():
        if any(True for _ in m.parameters(recurse=False)):
            groups.setdefault(".".join(name.split(".")[:2]), []).append(m)
    return list(reversed(groups.items()))


def randomize(m: nn.Module, generator: torch.Generator) -> None:
    """Re-initialize one module's weights: the layer's own initializer where it has one
    (drawn from `generator`), else a normal draw with the weights' standard deviation."""
    seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if hasattr(m, "reset_parameters"):
            m.reset_parameters()
            if isinstance(m, nn.modules.batchnorm._BatchNorm):  # reset gives 1 and 0
                with torch.no_grad():
                    m.weight.normal_(1.0, 0.5) if m.weight is not None else None
                    m.bias.normal_(0.0, 0.5) if m.bias is not None else None
            return
        with torch.no_grad():
            for p in m.parameters(recurse=False):
                p.normal_(0.0, float(p.std()) if p.numel() > 1 else 1.0)


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


def cascading_randomization(
    model: Explained,
    x: torch.Tensor,
    methods: list[str],
    params: Params | None = None,
    target: int | None = None,
    *,
    seed: int = 0,
    report: Callable[..., Any] | None = None,
) -> SanityResult:
    """Randomize block by block from the top; each method's rank correlation per step."""
    p = (params or Params()).checked(x.shape[-1])
    if "gradcam" in methods and p.layer is None:
        p = replace(p, layer=default_layer(spatial_layers(model, x)))
    with _copy_of(model) as twin:
        for q in twin.parameters():
            q.requires_grad_(False)
        private = _private(model, twin)
        original = attribution.explain_all(private, x, target, methods, p)
        index = next(iter(original.values())).target if original else 0
        steps = ["original"]
        correlations: dict[str, list[float | None]] = {m: [1.0] for m in methods}
        groups = blocks(twin)
        generator = torch.Generator().manual_seed(seed)
        for i, (name, modules) in enumerate(groups):
            if report is not None:
                report(step=i, total=len(groups), message=f"Randomizing {name}")
            for m in modules:
                randomize(m, generator)
            maps = attribution.explain_all(private, x, index, methods, p)
            steps.append(name)
            for method in methods:
                corr = rank_correlation(original[method].map, maps[method].map)
                correlations[method].append(corr)
        if report is not None:
            report(step=len(groups), total=len(groups), message="Done")
    return SanityResult(steps, correlations, index)


def _private(model: Explained, net: nn.Module) -> Explained:
    """`model`'s classes and preprocessing around this request's own network."""

    @contextmanager
    def borrow():
        yield net

    return replace(model, key=f"{model.key}:randomized", _borrow=borrow)


def lesson(result: SanityResult, threshold: float = 0.5) -> dict[str, bool]:
    """Per method: whether its map still correlates above `threshold` with the original once
    the whole network is random (then it explains the image rather than the model)."""
    last = {m: v[-1] for m, v in result.correlations.items()}
    return {m: v is not None and v > threshold for m, v in last.items() if m in METHODS}
