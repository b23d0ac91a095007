"""The effective receptive field (Luo et al. 2016): how strongly each input pixel moves one unit.

The theoretical receptive field says which pixels a unit can see; the gradient of the unit with
respect to the input says how much each of them counts. It concentrates near the center.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from cnnviz import registry, shared_model
from cnnviz.errors import OutOfBounds
from cnnviz.jobs.devices import cpu_threads
from cnnviz.limits import allocation_failure
from cnnviz.receptive_field import limits, precomputed
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
    one channel; a global layer has the single position (0, 0). Runs `model` itself in eval mode
    with no weight gradients, never a copy, and leaves it exactly as found
    (`shared_model.as_found`), failures included: a model shared between sessions is safe.
    """
    modules = dict(model.named_modules())
    if layer_name not in modules or not layer_name:
        raise UnknownLayer(f"the model has no layer {layer_name!r}")
    x = image.detach().to(torch.float32).clone().requires_grad_(True)
    if x.dim() == 3:
        x = x.unsqueeze(0)
    with shared_model.as_found(model), cpu_threads(1):
        model.eval().requires_grad_(False)  # undone by as_found
        try:
            grad = _gradient(model, modules[layer_name], layer_name, unit, x)
        except (MemoryError, RuntimeError) as err:
            refused = allocation_failure(err, "The effective field of this layer")
            if refused is None:
                raise
            raise refused from None
    return grad[0].abs().sum(0).numpy()


def _gradient(
    model: nn.Module, layer: nn.Module, layer_name: str, unit: tuple[int, ...], x: torch.Tensor
) -> torch.Tensor:
    """d unit / d x, the forward stopped at `layer` by raising from its hook."""
    captured: list[torch.Tensor] = []

    def stop(_module: nn.Module, _inputs: Any, output: Any) -> None:
        captured.append(next(tensors(output)))
        raise _Reached  # the layers after this one do not matter

    handle = layer.register_forward_hook(stop)
    try:
        with torch.enable_grad():
            model(x)
    except _Reached:
        pass
    finally:
        handle.remove()
    if not captured:
        raise UnknownLayer(f"layer {layer_name!r} is not called in the forward pass")
    target = _unit(captured[0][0], layer_name, unit)
    (grad,) = torch.autograd.grad(target, x)
    return grad


def _unit(out: torch.Tensor, layer_name: str, unit: tuple[int, ...]) -> torch.Tensor:
    """The scalar to differentiate: one unit's channels summed, or one channel of it."""
    *channel, i, j = unit
    if out.dim() >= 3:
        limits.check_unit(unit, tuple(out.shape[-2:]), out.shape[0])
        target = out[..., i, j]
    else:
        if (i, j) != (0, 0):
            raise OutOfBounds(
                f"Layer {layer_name!r} is global: its only unit is (0, 0).", "Pick unit (0, 0)."
            )
        target = out
    return target.reshape(-1)[channel[0]] if channel else target.sum()


def check_parameters(
    arch: registry.Architecture, size: tuple[int, int, int], pretrained: bool
) -> None:
    """OutOfBounds where the network is beyond `limits.FIELD_PARAMS` at this input (the
    pretrained model is torchvision's, sized by its default input)."""
    params = arch.parameter_count(None if pretrained else size)
    limits.FIELD_PARAMS.check(params, f"number of parameters of {arch.name} at this input")


def effective_field_of(
    name: str,
    layer_name: str,
    unit: tuple[int, int] | tuple[int, int, int],
    image: torch.Tensor,
    *,
    pretrained: bool = False,
) -> np.ndarray:
    """The effective field of registered model `name` on `image` (1 x C x H x W), with the
    process's shared model (`shared_model.borrow`): seeded untrained weights or torchvision's.

    OutOfBounds where the image or the network is beyond `cnnviz.receptive_field.limits`: it
    runs for real, so its cost grows with both. A field computed ahead of time (`ahead`: the
    page's defaults, at server start) is looked up instead (`precomputed`).
    """
    arch = registry.get(name)  # the one lookup: what follows takes the architecture
    size = limits.check_field_input(tuple(image.shape[-3:]))
    check_parameters(arch, size, pretrained)
    found = precomputed.lookup(precomputed.key(name, pretrained, layer_name, unit, image))
    if found is not None:
        return found
    with shared_model.borrow(arch, pretrained=pretrained, input_size=size) as model:
        return effective_receptive_field(model, layer_name, unit, image)


def central_share(erf: np.ndarray, region: tuple[int, int, int, int]) -> float:
    """Share of the effective field inside the central box of half the theoretical side."""
    top, left, bottom, right = region
    cy, cx = (top + bottom) / 2, (left + right) / 2
    half_h, half_w = (bottom - top + 1) / 4, (right - left + 1) / 4
    rows, cols = np.ogrid[: erf.shape[0], : erf.shape[1]]
    inside = (np.abs(rows - cy) <= half_h) & (np.abs(cols - cx) <= half_w)
    total = float(erf.sum())
    return float(erf[inside].sum()) / total if total > 0 else 0.0
