"""Receptive fields of every layer: size, jump (effective stride) and the input region of a unit.

Araujo, Norris & Sim, "Computing Receptive Fields of Convolutional Neural Networks", Distill 2019.
Per axis, unit 0 of a layer sees the input pixels [lo, hi]; a conv or pool with kernel k
(dilated: k_eff = d(k-1) + 1), stride s and padding p turns them into

    lo_out = lo_in - p * j_in,   hi_out = hi_in + (k_eff - 1 - p) * j_in,   j_out = s * j_in,

and unit i of a layer sees [lo + i*j, hi + i*j]. Where paths branch and merge (Inception's
concatenation, ResNet's F(x) + x) a unit sees the union of what its paths see. These numbers are
carried through the model's own forward pass on the meta device, so whatever torchvision's
forward does (concatenations, in-place additions, flatten) is what gets measured.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from cnnviz import registry
from cnnviz.errors import InputTooSmall, UnknownLayer
from cnnviz.receptive_field.tracer import FieldTracer, Trace, UnsupportedLayer, tensors


@dataclass(frozen=True)
class ReceptiveField:
    """What one layer's units see of the input, per axis (H, W).

    `start` is the top/left edge of unit (0, 0)'s field in input pixels (negative where it
    reaches into the padding). A global layer (after global pooling, flatten or a fully
    connected layer) sees the whole input: rf = input size, start 0, jump = input size.

    After an adaptive pool whose output size does not divide its input the units are not
    evenly spaced: `spans[a][i]` is then unit i's (first, last) input pixel along axis a,
    `rf` the widest field and `jump` the mean spacing (paths of different jumps that merge are
    followed the same way). `exact` is False only where such a unit's window holds nothing but
    zero padding and borrows its nearest unit's field (no registered model does that).
    """

    name: str
    type: str
    rf: tuple[int, ...]
    jump: tuple[float, ...]
    start: tuple[int, ...]
    output_shape: tuple[int, ...]
    is_global: bool = False
    exact: bool = True
    leaf: bool = True  # False for containers (features, layer4, inception4a)
    spans: tuple[tuple[tuple[int, int], ...], ...] | None = None

    @property
    def uniform(self) -> bool:
        """Whether every unit sees a field of the same size, one jump further than the last."""
        return self.spans is None

    @property
    def rf_range(self) -> tuple[tuple[int, int], ...]:
        """(smallest, largest) field per axis; both rf where the units are uniform."""
        if self.spans is None:
            return tuple((r, r) for r in self.rf)
        return tuple(
            (min(b - a + 1 for a, b in axis), max(b - a + 1 for a, b in axis))
            for axis in self.spans
        )

    @property
    def center(self) -> tuple[float, ...]:
        """Center of unit (0, 0)'s field: start + (rf - 1) / 2."""
        return tuple(s + (r - 1) / 2 for s, r in zip(self.start, self.rf, strict=True))

    @property
    def grid(self) -> tuple[int, ...]:
        """Units per axis on the layer's feature map (1 per axis for a global layer)."""
        d = len(self.rf)
        if self.is_global or len(self.output_shape) < d:
            return (1,) * d
        return tuple(self.output_shape[-d:])

    def region(self, i: int, j: int) -> tuple[int, int, int, int]:
        """(top, left, bottom, right) input pixels seen by unit (i, j): inclusive, not clipped."""
        rows, cols = self.grid
        if not (0 <= i < rows and 0 <= j < cols):
            raise ValueError(
                f"unit ({i}, {j}) is outside layer '{self.name}''s {rows}x{cols} feature map"
            )
        if self.spans is not None:
            (top, bottom), (left, right) = self.spans[0][i], self.spans[1][j]
            return top, left, bottom, right
        top = round(self.start[0] + i * self.jump[0])
        left = round(self.start[1] + j * self.jump[1])
        return top, left, top + self.rf[0] - 1, left + self.rf[1] - 1


def _field(
    name: str, module: nn.Module, trace: Trace, out: torch.Tensor, space: tuple[int, ...]
) -> ReceptiveField:
    shape = tuple(out.shape[1:])
    kind = type(module).__name__
    leaf = not any(True for _ in module.children())
    if trace.is_global:
        zero = (0,) * len(space)
        return ReceptiveField(name, kind, space, space, zero, shape, is_global=True, leaf=leaf)
    spans = None
    if trace.spans is not None:
        spans = tuple(tuple((round(lo), round(hi)) for lo, hi in axis) for axis in trace.spans)
        rf = tuple(max(hi - lo + 1 for lo, hi in axis) for axis in spans)
    else:
        rf = tuple(round(h - lo) + 1 for lo, h in zip(trace.lo, trace.hi, strict=True))
    return ReceptiveField(
        name=name,
        type=kind,
        rf=rf,
        jump=tuple(_number(j) for j in trace.jump),
        start=tuple(round(lo) for lo in trace.lo),
        output_shape=shape,
        exact=trace.exact,
        leaf=leaf,
        spans=spans,
    )


def _number(v: float) -> float:
    return int(v) if float(v).is_integer() else round(float(v), 2)


def field_calls(
    model: nn.Module, input_size: tuple[int, ...], label: str = "model"
) -> list[ReceptiveField]:
    """The receptive field of every module call, in the order the outputs are computed.

    A module called several times (torchvision's ResNet reuses its ReLU) appears once per call.
    Runs on the meta device, so nothing is allocated; the model itself is left as it was.
    """
    axes = len(input_size) - 1
    space = tuple(int(s) for s in input_size[1:])
    tracer = FieldTracer(axes)
    calls: list[ReceptiveField] = []
    modules = {m: n for n, m in model.named_modules() if n}

    def enter(module: nn.Module, _inputs: Any) -> None:
        tracer.modules.append(modules[module])

    def leave(module: nn.Module, _inputs: Any, output: Any) -> None:
        name = tracer.modules.pop()
        out = next((t for t in tensors(output) if tracer.trace_of(t) is not None), None)
        if out is not None:
            calls.append(_field(name, module, tracer.trace_of(out), out, space))

    handles = []
    for module in modules:
        handles.append(module.register_forward_pre_hook(enter))
        handles.append(module.register_forward_hook(leave))
    param = next((p for p in model.parameters() if p.is_floating_point()), None)
    dtype = param.dtype if param is not None else torch.float32
    # Always on the meta device: nothing the size of the input is allocated, whatever device
    # the model lives on (a real model runs with meta stand-ins for its weights).
    x = torch.empty((1, *input_size), device="meta", dtype=dtype)
    tracer.traces[id(x)] = (x, Trace((0,) * axes, (0,) * axes, (1,) * axes))
    modes = {m: m.training for m in model.modules()}  # restored one by one afterwards
    model.eval()
    try:
        with torch.no_grad(), tracer:
            _on_meta(model, x)
    except UnsupportedLayer:
        raise
    except Exception as err:  # a layer that cannot take this input: one clear sentence
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0]
        small = any(s in reason.lower() for s in ("too small", "greater than", "kernel size"))
        where = f": layer '{tracer.modules[-1]}' fails" if tracer.modules else ""
        volume = "x".join(str(s) for s in (*input_size[1:], input_size[0]))  # H x W x C
        raise InputTooSmall(
            f"A {volume} input "
            f"{'is too small for' if small else 'does not fit'} {label}{where} ({reason})"
        ) from None
    finally:
        for h in handles:
            h.remove()
        for m, training in modes.items():
            m.training = training
    return calls


def _on_meta(model: nn.Module, x: torch.Tensor) -> Any:
    """model(x) on the meta device; a model with real weights sees meta copies of them."""
    state = {
        **dict(model.named_parameters(remove_duplicate=False)),
        **dict(model.named_buffers(remove_duplicate=False)),
    }
    if all(t.is_meta for t in state.values()):
        return model(x)
    meta = {k: torch.empty_like(t, device="meta") for k, t in state.items()}
    return torch.func.functional_call(model, meta, (x,), tie_weights=False)


def receptive_fields(
    model: nn.Module, input_size: tuple[int, ...], label: str = "model"
) -> dict[str, ReceptiveField]:
    """Receptive field of every layer (first call of each module), keyed by dotted path."""
    fields: dict[str, ReceptiveField] = {}
    for call in field_calls(model, input_size, label):
        fields.setdefault(call.name, call)
    return fields


@functools.lru_cache(maxsize=128)
def _calls_cached(
    name: str, input_size: tuple[int, int, int], options: tuple[tuple[str, Any], ...]
) -> tuple[ReceptiveField, ...]:
    model = registry.build_meta(name, input_size, **dict(options))
    return tuple(field_calls(model, input_size, label=name))


def _key(name: str, input_size: Any, options: dict[str, Any]) -> tuple:
    return registry.cache_key(name, input_size, options)  # OutOfBounds outside cnnviz.model_limits


def field_calls_of(
    name: str, input_size: tuple[int, int, int] | None = None, **options: Any
) -> tuple[ReceptiveField, ...]:
    """Every module call of registered model `name` with its field (cached; meta device)."""
    return _calls_cached(*_key(name, input_size, options))


def receptive_fields_of(
    name: str, input_size: tuple[int, int, int] | None = None, **options: Any
) -> dict[str, ReceptiveField]:
    """Receptive field of every layer of registered model `name` (cached; meta device)."""
    fields: dict[str, ReceptiveField] = {}
    for call in field_calls_of(name, input_size, **options):
        fields.setdefault(call.name, call)
    return fields


def layer_field(
    name: str, layer: str, input_size: tuple[int, int, int] | None = None, **options: Any
) -> ReceptiveField:
    """The receptive field of one layer; UnknownLayer lists some valid names."""
    fields = receptive_fields_of(name, input_size, **options)
    if layer not in fields:
        names = list(fields)
        some = [*names[:4], "...", *names[-3:]] if len(names) > 8 else names
        raise UnknownLayer(f"{name} has no layer {layer!r}; layers: {', '.join(some)}")
    return fields[layer]


def headline(field: ReceptiveField) -> dict[str, str]:
    """The numbers a student reads off a layer, labeled, for metrics or a table row."""
    jump = f"{field.jump[0]}" + ("" if field.jump[0] == field.jump[1] else f" x {field.jump[1]}")
    rows, cols = field.grid
    widest = "" if field.uniform else "up to "  # units of unequal size: see caveat()
    return {
        "Receptive field (px)": f"{widest}{field.rf[0]}x{field.rf[1]}",
        "Jump, effective stride (px)": jump,
        "Start of unit (0, 0) (px)": f"{field.start[0]}, {field.start[1]}",
        "Feature map (units)": f"{rows}x{cols}",
    }


def caveat(field: ReceptiveField) -> str | None:
    """A sentence when the numbers need one: global layers and approximate adaptive pools."""
    if field.is_global:
        return (
            "A global layer (global pooling, flatten or fully connected): every unit sees the "
            "whole input."
        )
    if not field.uniform:
        sizes = " x ".join(f"{lo} to {hi}" if lo != hi else f"{lo}" for lo, hi in field.rf_range)
        return (
            "An adaptive pool whose output size does not divide its input pools windows of "
            f"unequal size and spacing: these units see fields of {sizes} pixels (rows x "
            "columns), unevenly spaced, each computed from its own window. The field shown is "
            "the widest; the jump is the mean spacing."
        )
    if not field.exact:
        return (
            "Approximate: a window of this or an earlier layer holds nothing but zero "
            "padding; it is shown with its nearest unit's field."
        )
    return None


GROWTH_NOTE = (
    "The line follows the main path. Where paths merge (ResNet's F(x) + x, Inception's "
    "concatenation) a unit sees the largest of their fields, so along the main path the field "
    "never shrinks. Hollow points are side branches with their own, smaller field (a downsample "
    "shortcut's 1x1 conv, Inception's narrower branches). A global pool sees the whole input: "
    "its field is the input itself, not a growth (diamonds on the dotted line)."
)


def growth_roles(fields: list[ReceptiveField]) -> list[tuple[ReceptiveField, str]]:
    """Every leaf layer in forward order with its role on the growth chart: 'global' (sees the
    whole input), 'side' (a branch whose field is smaller than one already reached: it merges
    into a wider path later) or 'main' (the field along the main path: never shrinks)."""
    roles = []
    widest: tuple[int, ...] | None = None
    for f in fields:
        if not f.leaf:
            continue
        if f.is_global:
            roles.append((f, "global"))
            continue
        side = widest is not None and any(r < w for r, w in zip(f.rf, widest, strict=True))
        roles.append((f, "side" if side else "main"))
        if not side:
            widest = f.rf
    return roles


def telling_layer(fields: dict[str, ReceptiveField], input_size: tuple[int, int, int]) -> str:
    """The layer with the largest field that still fits in the input, named shortest
    (layer3 rather than layer3.1.conv2): a good first layer to look at."""
    fitting = [f for f in fields.values() if not f.is_global and 1 < f.rf[0] <= input_size[1]]
    if not fitting:
        return next(iter(fields))
    largest = max(f.rf[0] for f in fitting)
    return min((f for f in fitting if f.rf[0] == largest), key=lambda f: f.name.count(".")).name
