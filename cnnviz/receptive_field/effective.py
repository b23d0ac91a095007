"""The effective receptive field (Luo et al. 2016): how strongly each input pixel moves one unit.

The theoretical receptive field says which pixels a unit can see; the gradient of the unit with
respect to the input says how much each of them counts. It concentrates near the center.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch
from torch import nn

from cnnviz.receptive_field.theoretical import UnknownLayer
from cnnviz.receptive_field.tracer import tensors


class _Reached(Exception):
    """Raised by a forward hook to stop the forward pass at the layer of interest."""


def effective_receptive_field(
    model: nn.Module,
    layer_name: str,
    unit: tuple[int, int] | tuple[int, int, int],
    image: torch.Tensor,
) -> np.ndarray:
    """|d unit / d input| summed over input channels: an (H, W) array (Luo et al. 2016).

    `unit` is (i, j) for every channel at that position (the paper's choice) or (c, i, j) for
    one channel; a global layer has the single position (0, 0). Works on a copy of `model` in
    eval mode, so a model shared between sessions is never touched.
    """
    net = copy.deepcopy(model).eval().requires_grad_(False)
    modules = dict(net.named_modules())
    if layer_name not in modules or not layer_name:
        raise UnknownLayer(f"the model has no layer {layer_name!r}")
    captured: list[torch.Tensor] = []

    def stop(_module: nn.Module, _inputs: Any, output: Any) -> None:
        captured.append(next(tensors(output)))
        raise _Reached  # the layers after this one do not matter

    handle = modules[layer_name].register_forward_hook(stop)
    x = image.detach().to(torch.float32).clone().requires_grad_(True)
    if x.dim() == 3:
        x = x.unsqueeze(0)
    try:
        with torch.enable_grad():
            net(x)
    except _Reached:
        pass
    finally:
        handle.remove()
    if not captured:
        raise UnknownLayer(f"layer {layer_name!r} is not called in the forward pass")
    out = captured[0][0]
    *channel, i, j = unit
    if out.dim() >= 3:
        rows, cols = out.shape[-2:]
        if not (0 <= i < rows and 0 <= j < cols):
            raise ValueError(f"unit ({i}, {j}) is outside the {rows}x{cols} feature map")
        target = out[..., i, j]
    else:
        if (i, j) != (0, 0):
            raise ValueError(f"layer {layer_name!r} is global: its only unit is (0, 0)")
        target = out
    target = target.reshape(-1)[channel[0]] if channel else target.sum()
    (grad,) = torch.autograd.grad(target, x)
    return grad[0].abs().sum(0).numpy()


def central_share(erf: np.ndarray, region: tuple[int, int, int, int]) -> float:
    """Share of the effective field inside the central box of half the theoretical side."""
    top, left, bottom, right = region
    cy, cx = (top + bottom) / 2, (left + right) / 2
    half_h, half_w = (bottom - top + 1) / 4, (right - left + 1) / 4
    rows, cols = np.ogrid[: erf.shape[0], : erf.shape[1]]
    inside = (np.abs(rows - cy) <= half_h) & (np.abs(cols - cx) <= half_w)
    total = float(erf.sum())
    return float(erf[inside].sum()) / total if total > 0 else 0.0
