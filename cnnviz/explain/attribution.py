"""Which input pixels drove a prediction, with captum: Saliency, Integrated Gradients,
SmoothGrad (Saliency over noisy copies), Grad-CAM (LayerGradCam), Occlusion and Guided Backprop.

SmoothGrad draws its noise from a local torch.Generator seeded by Params.seed (the same seed,
the same map; the global RNG is left alone): the same draws as captum's NoiseTunnel after
torch.manual_seed(seed).

`attribute` returns the map exactly as captum does for a batch of one (1 x C x H x W for the
pixel methods, 1 x 1 x h x w at the layer for Grad-CAM); `heatmap` turns it into the H x W
picture the page overlays. The model is borrowed (Explained.borrow): captum's hooks and the
gradient flags are undone before anyone else uses it.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from captum.attr import (
    GuidedBackprop,
    IntegratedGradients,
    LayerAttribution,
    LayerGradCam,
    Occlusion,
    Saliency,
)
from torch import nn

from cnnviz.errors import OutOfBounds
from cnnviz.explain import limits
from cnnviz.explain.feature_maps import default_layer, module, spatial_layers
from cnnviz.explain.models import Explained

METHODS: dict[str, str] = {
    "saliency": "Saliency",
    "integrated_gradients": "Integrated Gradients",
    "smoothgrad": "SmoothGrad",
    "gradcam": "Grad-CAM",
    "occlusion": "Occlusion",
    "guided_backprop": "Guided Backprop",
}
BASELINES = ("zeros", "black")  # zeros in the input space (the default), or a black image
# Methods that cost many passes of the network (the page runs them as jobs on large models).
SLOW = ("integrated_gradients", "smoothgrad", "occlusion")


@dataclass(frozen=True)
class Params:
    """Every method's settings (hashable: the page caches maps by them)."""

    steps: int = 32  # Integrated Gradients
    baseline: str = "zeros"
    samples: int = 16  # SmoothGrad
    noise: int = 15  # SmoothGrad: percent of the input's range
    window: int | None = None  # Occlusion, in input pixels; None: about an eighth of the side
    stride: int | None = None  # None: half the window
    layer: str | None = None  # Grad-CAM; None: default_layer
    seed: int = 0  # SmoothGrad's noise (and the sanity check's random weights)

    def checked(self, side: int) -> Params:
        """Within cnnviz.explain.limits (OutOfBounds otherwise), the window within the image; the
        occlusion defaults filled in for this side."""
        if self.window is None or self.stride is None:
            window = self.window or max(2, side // 8)
            return replace(self, window=window, stride=self.stride or max(1, window // 2)).checked(
                side
            )
        limits.IG_STEPS.check(self.steps)
        limits.SMOOTHGRAD_SAMPLES.check(self.samples)
        limits.SMOOTHGRAD_NOISE.check(self.noise)
        limits.EXPLAIN_SEED.check(self.seed)
        limits.OCCLUSION_WINDOW.check(self.window)
        limits.OCCLUSION_STRIDE.check(self.stride)
        if self.baseline not in BASELINES:
            raise OutOfBounds(
                f"There is no baseline {self.baseline!r}.", f"Use one of {', '.join(BASELINES)}."
            )
        if self.window > side:
            raise OutOfBounds(
                f"The occlusion window ({self.window}) is larger than the image ({side}).",
                f"Use a window of at most {side} pixels.",
            )
        positions = (1 + math.ceil((side - self.window) / self.stride)) ** 2
        limits.OCCLUSION_POSITIONS.check(
            positions, f"number of occlusion windows ({self.window} px every {self.stride} px)"
        )
        return self


@dataclass(frozen=True)
class Attribution:
    method: str
    target: int
    map: np.ndarray  # exactly as captum returns it, batch of one
    seconds: float
    delta: float | None = None  # Integrated Gradients' convergence delta
    layer: str | None = None  # Grad-CAM's layer


def _check_method(method: str) -> None:
    if method not in METHODS:
        raise OutOfBounds(
            f"There is no attribution method {method!r}.", f"Use one of {', '.join(METHODS)}."
        )


def baseline_of(model: Explained, x: torch.Tensor, kind: str) -> torch.Tensor:
    """The reference input: zeros in the input space, or the preprocessed black image."""
    if kind == "black":
        black = np.zeros((model.image_size, model.image_size, 3), np.uint8)
        return model.preprocess(black).expand_as(x).contiguous()
    return torch.zeros_like(x)


def _run(
    net: nn.Module, x: torch.Tensor, target: int, method: str, p: Params, baseline: torch.Tensor
) -> tuple[torch.Tensor, float | None]:
    """captum's own call for one method on a borrowed network."""
    inp = x.clone().requires_grad_(True)  # captum sets it anyway, with a warning
    match method:
        case "saliency":
            return Saliency(net).attribute(inp, target=target, abs=True), None
        case "integrated_gradients":
            attr, delta = IntegratedGradients(net).attribute(
                inp,
                baselines=baseline,
                target=target,
                n_steps=p.steps,
                internal_batch_size=min(p.steps, 32),  # 32 at once: fast, bounded memory
                return_convergence_delta=True,
            )
            return attr, float(delta.abs().max())
        case "smoothgrad":
            stdev = p.noise / 100 * float(x.max() - x.min())
            generator = torch.Generator().manual_seed(p.seed)
            return smoothgrad(net, x, target, p.samples, stdev, generator), None
        case "gradcam":
            layer = module(net, p.layer or "")
            # relu: Selvaraju et al.'s map keeps what speaks for the class (captum's default
            # keeps the negative evidence too)
            cam = LayerGradCam(net, layer).attribute(inp, target=target, relu_attributions=True)
            return cam, None
        case "occlusion":
            c = x.shape[1]
            attr = Occlusion(net).attribute(
                inp,
                sliding_window_shapes=(c, p.window, p.window),
                strides=(c, p.stride, p.stride),
                baselines=baseline,
                target=target,
                perturbations_per_eval=16,
            )
            return attr, None
        case _:
            return GuidedBackprop(net).attribute(inp, target=target), None


def smoothgrad(
    net: nn.Module,
    x: torch.Tensor,
    target: int,
    samples: int,
    stdev: float,
    generator: torch.Generator,
    batch: int = 16,
) -> torch.Tensor:
    """Saliency (absolute gradients) averaged over `samples` noisy copies of x (Smilkov et al.
    2017), the noise N(0, stdev) drawn from `generator`, `batch` copies per pass: captum's
    NoiseTunnel(Saliency) step by step, with its draws, sums and order."""
    saliency = Saliency(net)
    total = torch.zeros_like(x)
    done = 0
    while done < samples:
        n = min(batch, samples - done)
        spread = torch.tensor(stdev).repeat((n, *x.shape[1:]))  # as NoiseTunnel builds it
        noisy = x.detach().repeat_interleave(n, dim=0) + torch.normal(
            0, spread, generator=generator
        )
        total = total + saliency.attribute(noisy, target=target, abs=True).sum(0, keepdim=True)
        done += n
    return total * (1 / samples)


def attribute(
    model: Explained,
    x: torch.Tensor,
    method: str,
    target: int | str | None = None,
    params: Params | None = None,
) -> Attribution:
    """`method`'s attribution of class `target` (None: the predicted class) for input x."""
    _check_method(method)
    p = (params or Params()).checked(x.shape[-1])
    if method == "gradcam" and p.layer is None:
        p = replace(p, layer=default_layer(spatial_layers(model, x)))
    baseline = baseline_of(model, x, p.baseline)
    with model.borrow() as net:
        if target is None:
            with torch.no_grad():
                index = int(net(x).argmax(1))
        else:
            index = model.class_index(target)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # captum's notes on hooks and grads
            attr, delta = _run(net, x, index, method, p, baseline)
        seconds = time.perf_counter() - start
    return Attribution(
        method=method,
        target=index,
        map=attr.detach().numpy(),
        seconds=seconds,
        delta=delta,
        layer=p.layer if method == "gradcam" else None,
    )


def heatmap(attr: Attribution, side: int) -> np.ndarray:
    """side x side values in [0, 1]: magnitude summed over channels (Grad-CAM upsampled
    bilinearly with LayerAttribution.interpolate), scaled by its 99th percentile so one
    extreme pixel does not wash the rest out."""
    t = torch.from_numpy(attr.map)
    if attr.method == "gradcam":
        t = LayerAttribution.interpolate(t, (side, side), interpolate_mode="bilinear")
        values = t[0, 0].clamp_min(0)
    else:
        values = t[0].abs().sum(0)
    top = float(torch.quantile(values.flatten().double(), 0.99))
    if top <= 0:
        top = float(values.max()) or 1.0
    return (values / top).clamp(0, 1).numpy()


def explain_all(
    model: Explained,
    x: torch.Tensor,
    target: int | None,
    methods: list[str],
    params: Params,
    *,
    report: Callable[..., Any] | None = None,
) -> dict[str, Attribution]:
    """Several methods in turn, reporting after each (a job's stop lands between); the job
    `cnnviz.explain.jobs.explain_maps` runs it on the model a ModelSpec names."""
    results = {}
    for i, method in enumerate(methods):
        if report is not None:
            report(step=i, total=len(methods), message=METHODS[method])
        results[method] = attribute(model, x, method, target, params)
    if report is not None:
        report(step=len(methods), total=len(methods), message="Done")
    return results
