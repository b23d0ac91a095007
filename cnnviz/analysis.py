"""Per-layer analysis of any registered model at any input size, on the meta device.

Built on torchinfo's forward trace. MACs follow the lecture and torchvision's `_ops`: the weight
multiplications of conv and linear layers only, no bias additions (torchinfo's own mult-adds
add the biases).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Any

import torch
import torchinfo
from torch import nn

from cnnviz import registry
from cnnviz.arithmetic import pair
from cnnviz.errors import DoesNotFit, InputTooSmall
from cnnviz.limits import allocation_failure
from cnnviz.notation import hwc, volume

MAC_CONVENTION = (
    "MACs = weight multiplications: conv and fully connected layers, LeNet's trainable "
    "subsampling (one coefficient per output) and its RBF output (one squared difference per "
    "connection). Not counted: bias additions, max and average pooling, activations. The "
    "lecture's 'ops' and torchvision's `_ops`."
)
MEMORY_CONVENTION = (
    "Activation values counted like the lecture's VGG slide: the input plus the output of "
    "every conv, pool and fully connected layer (ReLU works in place)."
)

PARALLEL = ("branch", "downsample", "shortcut")
CONTAINERS = {"Sequential", "ModuleList", "ModuleDict"}
KINDS = {
    "conv": (nn.modules.conv._ConvNd,),
    "pool": (nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d),
    "fc": (nn.Linear,),
    "norm": (nn.BatchNorm2d, nn.LocalResponseNorm),
    "activation": (nn.ReLU, nn.Tanh, nn.Sigmoid),
}


def layer_kind(module: nn.Module) -> str:
    """conv, pool, fc, norm, activation, block (has children) or other, by module type."""
    for kind, types in KINDS.items():
        if isinstance(module, types):
            return kind
    name = type(module).__name__
    if name == "ConnectionTableConv2d":
        return "conv"
    if name == "Subsampling":
        return "pool"
    if name == "RBFOutput":
        return "fc"
    return "block" if any(True for _ in module.children()) else "other"


def weight_macs(module: nn.Module, output_shape: tuple[int, ...]) -> int:
    """Weight multiplications of one call of a leaf module (output shape without batch)."""
    custom = getattr(module, "weight_macs", None)
    if custom is not None:
        return int(custom(output_shape))
    if isinstance(module, nn.modules.conv._ConvNd) and not module.transposed:
        return module.weight.numel() * math.prod(output_shape[1:])
    if isinstance(module, nn.Linear):
        return module.weight.numel() * math.prod(output_shape[:-1])
    return 0


def hyperparameters(module: nn.Module) -> dict[str, Any]:
    """The settings a student reads off a layer: kernel, stride, padding, filters..."""
    h: dict[str, Any] = {}
    if hasattr(module, "kernel_size") and hasattr(module, "stride"):
        h["kernel"] = pair(module.kernel_size)[0]
        stride = module.stride if module.stride is not None else module.kernel_size
        h["stride"] = pair(stride)[0]
        if not isinstance(module.padding, str):
            h["padding"] = pair(module.padding)[0]
        dilation = pair(getattr(module, "dilation", 1))[0]
        if dilation != 1:
            h["dilation"] = dilation
        if getattr(module, "ceil_mode", False):
            h["ceil_mode"] = True
    for attr in ("in_channels", "out_channels", "in_features", "out_features", "connections"):
        if hasattr(module, attr):
            h[attr] = int(getattr(module, attr))
    if getattr(module, "groups", 1) != 1:
        h["groups"] = module.groups
    if isinstance(module, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
        h["output_size"] = pair(module.output_size)[0]
    if isinstance(module, nn.LocalResponseNorm):
        h["size"] = module.size
    return h


@dataclass(frozen=True)
class Layer:
    """One call of one module: its dotted path as in `model.named_modules()` and its numbers."""

    name: str
    type: str
    kind: str
    depth: int
    leaf: bool
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    params: int
    trainable_params: int
    macs: int
    hyper: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    repeat: bool = False  # a module called again (torchvision ResNet reuses its ReLU)

    @property
    def activations(self) -> int:
        return math.prod(self.output_shape)

    def volume(self) -> str:
        """Output volume in the lecture's H x W x C (or the number of features)."""
        return volume(self.output_shape)


@dataclass(frozen=True)
class Analysis:
    """Every module call of a model in execution order, and the totals."""

    model: str
    input: tuple[int, int, int]
    options: tuple[tuple[str, Any], ...]
    layers: tuple[Layer, ...]
    total_params: int
    trainable_params: int
    output_shape: tuple[int, ...]

    @property
    def leaves(self) -> list[Layer]:
        """Layers that compute (no containers)."""
        return [layer for layer in self.layers if layer.leaf]

    @property
    def blocks(self) -> list[Layer]:
        """Containers (features, layer4, inception3a...)."""
        return [layer for layer in self.layers if not layer.leaf]

    @property
    def total_macs(self) -> int:
        return sum(layer.macs for layer in self.leaves)

    @property
    def activation_values(self) -> int:
        """Activation values as the slides count them (MEMORY_CONVENTION)."""
        counted = {"conv", "pool", "fc"}
        return math.prod(self.input) + sum(
            layer.activations
            for layer in self.leaves
            if layer.kind in counted and not layer.type.startswith("Adaptive")
        )

    def diagram_layers(self) -> list[Layer]:
        """The layers as a slide draws them: conv, pool and FC layers, AlexNet's local response
        normalizations (NORM1, NORM2), a ResNet block or an Inception module as one unit (the
        outermost non-container module around a layer). Batch norms are not drawn: the slides
        fold them into their convolution."""
        blocks = {b.name: b for b in self.blocks}
        units: dict[str, Layer] = {}
        for layer in self.leaves:
            drawn = layer.kind in ("conv", "pool", "fc") or layer.type == "LocalResponseNorm"
            if not drawn or layer.repeat:
                continue
            parts = layer.name.split(".")
            unit = layer
            for i in range(1, len(parts)):
                ancestor = blocks.get(".".join(parts[:i]))
                if ancestor is not None and ancestor.type not in CONTAINERS:
                    unit = ancestor
                    break
            units.setdefault(unit.name, unit)
        return list(units.values())

    def depth_in_layers(self) -> int:
        """Layers with weights on the longest path: how the lecture counts 8, 16, 22 or 152.

        Children called branch* (Inception) run in parallel, as does a ResNet block's
        downsample shortcut: they count by their deepest path, not their sum.
        """
        children: dict[str, list[Layer]] = {}
        for layer in self.layers:
            if not layer.repeat:
                children.setdefault(layer.name.rpartition(".")[0], []).append(layer)

        def depth(name: str, leaf: Layer | None) -> int:
            if leaf is not None and leaf.leaf:
                return int(leaf.kind in ("conv", "fc") and leaf.params > 0)
            kids = children.get(name, [])
            parallel = [k for k in kids if k.name.rpartition(".")[2].startswith(PARALLEL)]
            serial = [k for k in kids if k not in parallel]
            along = sum(depth(k.name, k) for k in serial)
            return max([along, *(depth(k.name, k) for k in parallel)])

        return depth("", None)

    def layer(self, name: str) -> Layer:
        """The first call of the module at dotted path `name`."""
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(f"{self.model} has no layer {name!r}")

    def to_json(self) -> dict[str, Any]:
        """The `summary --json` document (keys are a contract: extend, never rename)."""

        def row(layer: Layer) -> dict[str, Any]:
            return {
                "name": layer.name,
                "type": layer.type,
                "output_shape": list(layer.output_shape),
                "params": layer.params,
                "macs": layer.macs,
                "kind": layer.kind,
                "input_shape": list(layer.input_shape),
                "trainable_params": layer.trainable_params,
                "activations": layer.activations,
                "depth": layer.depth,
            }

        return {
            "model": self.model,
            "input": list(self.input),
            "options": {k: _jsonable(v) for k, v in self.options},
            "total_params": self.total_params,
            "trainable_params": self.trainable_params,
            "total_macs": self.total_macs,
            "activation_values": self.activation_values,
            "output_shape": list(self.output_shape),
            "layers": [row(layer) for layer in self.leaves],
            "blocks": [row(layer) for layer in self.blocks],
        }


def _jsonable(v: Any) -> Any:
    return list(v) if isinstance(v, tuple) else v


def _shape(size: Any) -> tuple[int, ...]:
    """Shape without the batch dimension, from torchinfo's size list."""
    if isinstance(size, (list, tuple)) and size and all(isinstance(s, int) for s in size):
        return tuple(size[1:])
    if isinstance(size, (list, tuple)) and size:
        return _shape(size[0])
    return ()


def analyze_module(
    model: nn.Module, input_size: tuple[int, int, int], label: str = "model"
) -> Analysis:
    """Analyze a model that already lives on the meta device (or any device; nothing is copied).

    The input is an empty tensor on the model's device: on the meta device nothing the size of
    the input is allocated.
    """
    names = {id(m): n for n, m in model.named_modules()}
    entered: list[tuple[str, tuple[int, ...]]] = []
    handles = []
    for n, m in model.named_modules():
        if n:
            handles.append(
                m.register_forward_pre_hook(
                    lambda _m, i, n=n: entered.append((n, tuple(i[0].shape[1:]) if i else ()))
                )
            )
            handles.append(m.register_forward_hook(lambda *_a: entered.pop() and None))
    device = next((p.device for p in model.parameters()), torch.device("meta"))
    if device.type == "meta":
        # Batch norm keeps the shape; its meta kernel is a slow Python decomposition (half of
        # ResNet-152's trace), so this model's own BN layers pass their input through.
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.forward = _passthrough
    try:
        # The input is built here, on the model's device: torchinfo's own `input_size` would
        # fill a real CPU tensor first (2.8 GB at 3x16000x16000) and then move it to meta.
        stats = torchinfo.summary(
            model,
            input_data=torch.empty((1, *input_size), device=device),
            device=device,
            depth=10_000,
            mode="eval",
            verbose=0,
        )
    except Exception as err:  # torchinfo wraps the real error in a RuntimeError
        raise _explain_failure(label, input_size, model, entered, err) from None
    finally:
        for h in handles:
            h.remove()
        for m in model.modules():
            m.__dict__.pop("forward", None)

    layers: list[Layer] = []
    seen: set[int] = set()
    for info in stats.summary_list:
        module = info.module
        if module is model or not info.executed:
            continue
        repeat = id(module) in seen
        seen.add(id(module))
        out_shape = _shape(info.output_size)
        leaf = not any(True for _ in module.children())
        layers.append(
            Layer(
                name=names.get(id(module), info.var_name),
                type=type(module).__name__,
                kind=layer_kind(module),
                depth=info.depth,
                leaf=leaf,
                input_shape=_shape(info.input_size),
                output_shape=out_shape,
                params=0 if repeat else _own_params(module, leaf),
                trainable_params=0 if repeat else _own_params(module, leaf, trainable=True),
                macs=weight_macs(module, out_shape) if leaf else 0,
                hyper=hyperparameters(module),
                repeat=repeat,
            )
        )
    layers = _fill_block_macs(layers)
    return Analysis(
        model=label,
        input=tuple(input_size),
        options=(),
        layers=tuple(layers),
        total_params=sum(p.numel() for p in model.parameters()),
        trainable_params=sum(p.numel() for p in model.parameters() if p.requires_grad),
        output_shape=_shape(stats.summary_list[0].output_size),
    )


def _passthrough(x: torch.Tensor) -> torch.Tensor:
    return x


def _own_params(module: nn.Module, leaf: bool, trainable: bool = False) -> int:
    params = module.parameters(recurse=not leaf)
    return sum(p.numel() for p in params if p.requires_grad or not trainable)


def _fill_block_macs(layers: list[Layer]) -> list[Layer]:
    """A container's MACs are the sum over the leaves inside it."""
    inside: dict[str, int] = {}
    for layer in layers:
        if layer.leaf:
            parts = layer.name.split(".")
            for i in range(1, len(parts)):
                prefix = ".".join(parts[:i])
                inside[prefix] = inside.get(prefix, 0) + layer.macs
    return [
        layer if layer.leaf else Layer(**{**layer.__dict__, "macs": inside.get(layer.name, 0)})
        for layer in layers
    ]


def _explain_failure(
    label: str,
    input_size: tuple[int, int, int],
    model: nn.Module,
    entered: list[tuple[str, tuple[int, ...]]],
    err: Exception,
) -> Exception:
    """Turn a failed trace into one clear sentence naming the first layer that failed."""
    cause = err.__cause__ or err
    c, h, w = input_size
    refused = allocation_failure(cause, f"Analyzing {label} on a {hwc(h, w, c)} input")
    if refused is not None:  # not "too small": the raw allocator text helps no student
        return refused
    reason = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
    if not entered:
        return DoesNotFit(f"{label} cannot take a {hwc(h, w, c)} input: {reason}")
    name, shape = entered[-1]
    module = dict(model.named_modules())[name]
    hyper = hyperparameters(module)
    geometry = ", ".join(f"{k} {v}" for k, v in hyper.items())
    expected = hyper.get("in_channels", hyper.get("in_features"))
    got = shape[0] if len(shape) == 3 else (shape[-1] if shape else None)
    mismatch = expected is not None and got is not None and expected != got
    if mismatch:
        what = "channels" if "in_channels" in hyper else "features"
        reason = f"it expects {expected} input {what} but gets {got}"
    small = not mismatch and any(
        s in reason.lower() for s in ("too small", "greater than", "kernel size")
    )
    error = InputTooSmall if small else DoesNotFit
    return error(
        f"A {hwc(h, w, c)} input {'is too small for' if small else 'does not fit'} {label}: "
        f"layer '{name}' ({type(module).__name__}{', ' + geometry if geometry else ''}) "
        f"fails on its {volume(shape)} input: {reason}",
        f"Set the input depth to {expected}." if mismatch and "in_channels" in hyper else None,
    )


@functools.lru_cache(maxsize=256)
def _analyze_cached(
    name: str, input_size: tuple[int, int, int], options: tuple[tuple[str, Any], ...]
) -> Analysis:
    model = registry.build_meta(name, input_size, **dict(options))
    result = analyze_module(model, input_size, label=name)
    return Analysis(**{**result.__dict__, "options": options})


def analyze(name: str, input_size: tuple[int, int, int] | None = None, **options: Any) -> Analysis:
    """Analyze registered model `name` (default input if none) on the meta device: neither
    weights nor an input are allocated, so the cost does not depend on the input size.

    OutOfBounds for an input size or an option outside `cnnviz.model_limits`.
    """
    return _analyze_cached(*registry.cache_key(name, input_size, options))
