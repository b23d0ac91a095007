"""A layer's activations for one input: a forward hook on the layer, removed afterwards
(and everything else the model had is restored by Explained.borrow)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from cnnviz.errors import UnknownLayer
from cnnviz.explain import limits
from cnnviz.explain.models import Explained


def module(model: nn.Module, path: str) -> nn.Module:
    """The submodule at a dotted path; UnknownLayer naming a few valid ones otherwise."""
    modules = dict(model.named_modules())
    if path not in modules or path == "":
        some = [n for n in modules if n][:8]
        raise UnknownLayer(
            f"The model has no layer {path!r}; its layers include {', '.join(some)}.",
        )
    return modules[path]


def spatial_layers(model: Explained, x: torch.Tensor) -> dict[str, tuple[int, int, int]]:
    """Every layer whose output is a C x H x W volume, in the order the forward pass computes
    them (a container after its children), with that volume: the layers one can look into."""
    shapes: dict[str, tuple[int, int, int]] = {}
    with model.borrow() as net:
        handles = []
        for name, m in net.named_modules():
            if not name:
                continue

            def hook(_m: nn.Module, _i: object, out: object, name: str = name) -> None:
                if isinstance(out, torch.Tensor) and out.ndim == 4:
                    shapes.pop(name, None)  # a module called twice: its last call's place
                    shapes[name] = tuple(out.shape[1:])  # type: ignore[assignment]

            handles.append(m.register_forward_hook(hook))
        try:
            with torch.no_grad():
                net(x)
        finally:
            for h in handles:
                h.remove()
    return shapes


def default_layer(shapes: dict[str, tuple[int, int, int]]) -> str:
    """The last layer with a spatial map larger than 1x1: Grad-CAM's usual choice (ResNet's
    layer4, LeNet-5's s4), where the features are most semantic and still have a place."""
    spatial = [n for n, (_, h, w) in shapes.items() if h * w > 1]
    return (spatial or list(shapes))[-1]


def activations(model: Explained, x: torch.Tensor, layer: str) -> torch.Tensor:
    """The layer's output for input x (batch of one): C x H x W."""
    captured: list[torch.Tensor] = []
    with model.borrow() as net:
        handle = module(net, layer).register_forward_hook(
            lambda _m, _i, out: captured.append(out.detach().clone())
        )
        try:
            with torch.no_grad():
                net(x)
        finally:
            handle.remove()
    if not captured or captured[-1].ndim != 4:
        raise UnknownLayer(f"Layer {layer!r} has no feature maps (its output is not C x H x W).")
    return captured[-1][0]


@dataclass(frozen=True)
class FeatureMaps:
    """The top-k channels of a layer by mean activation."""

    layer: str
    shape: tuple[int, int, int]  # the layer's whole output, C x H x W
    channels: list[int]  # channel indices, strongest first
    means: list[float]
    maps: np.ndarray  # k x H x W


def top_channels(model: Explained, x: torch.Tensor, layer: str, k: int = 16) -> FeatureMaps:
    """The k channels of `layer` with the largest mean activation for x."""
    k = limits.TOP_CHANNELS.check(k)
    act = activations(model, x, layer)
    means = act.mean(dim=(1, 2))
    order = torch.argsort(means, descending=True)[: min(k, act.shape[0])]
    return FeatureMaps(
        layer=layer,
        shape=tuple(act.shape),  # type: ignore[arg-type]
        channels=order.tolist(),
        means=means[order].tolist(),
        maps=act[order].numpy(),
    )


# Grad-CAM's map has one value per cell of its layer's grid: below 4x4 it hardly says where.
MIN_CAM_GRID = 4


def _fine(shape: tuple[int, int, int]) -> bool:
    return shape[1] >= MIN_CAM_GRID and shape[2] >= MIN_CAM_GRID


def coarse_layer_note(shapes: dict[str, tuple[int, int, int]], layer: str, side: int) -> str | None:
    """None when `layer`'s grid (shapes: spatial_layers at the model's input size) is at least
    MIN_CAM_GRID x MIN_CAM_GRID; otherwise a sentence saying what its Grad-CAM map can tell,
    and the layer to try instead: the last one before it that is fine enough (at its own
    nesting depth when there is one), else the first after it, else a larger image."""
    _, h, w = shapes[layer]
    if _fine(shapes[layer]):
        return None
    if h * w == 1:
        what = "its Grad-CAM map is one number for the whole image, so it cannot say where"
    elif h == w == 2:
        what = "its Grad-CAM map can only say which quarter of the image mattered"
    else:
        what = f"its Grad-CAM map can only say which of {h * w} patches of the image mattered"
    said = f"{layer} is {h}x{w} at {side}x{side} px: {what}."
    names = list(shapes)
    at = names.index(layer)
    inside = f"{layer}."  # a container's children come before it: they are not "earlier"
    before = [n for n in names[:at] if _fine(shapes[n]) and not n.startswith(inside)]
    depth = layer.count(".")
    same_depth = [n for n in before if n.count(".") == depth]
    after = [n for n in names[at + 1 :] if _fine(shapes[n])]
    if before or after:
        pick = (same_depth or before)[-1] if before else after[0]
        where = "the last layer before it" if before else "the first layer after it"
        _, h2, w2 = shapes[pick]
        return f"{said} Try {pick} ({h2}x{w2}), {where} with a grid of at least 4x4."
    return (
        f"{said} No layer of this model is 4x4 or finer at this size: explain it on larger "
        "images (for a fine-tuned model, train it at a larger image side)."
    )
