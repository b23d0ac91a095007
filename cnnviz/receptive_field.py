"""Receptive fields of every layer: size, jump (effective stride) and the input region of a unit.

Araujo, Norris & Sim, "Computing Receptive Fields of Convolutional Neural Networks", Distill 2019.
Per axis, unit 0 of a layer sees the input pixels [lo, hi]; a conv or pool with kernel k
(dilated: k_eff = d(k-1) + 1), stride s and padding p turns them into

    lo_out = lo_in - p * j_in,   hi_out = hi_in + (k_eff - 1 - p) * j_in,   j_out = s * j_in,

and unit i of a layer sees [lo + i*j, hi + i*j]. Where paths branch and merge (Inception's
concatenation, ResNet's F(x) + x) a unit sees the union of what its paths see. These numbers are
carried through the model's own forward pass on the meta device, so whatever torchvision's
forward does (concatenations, in-place additions, flatten) is what gets measured.

Also here: the effective receptive field (Luo et al. 2016) and VGG's 3x3 stacking.
"""

from __future__ import annotations

import copy
import functools
import math
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

from cnnviz import registry
from cnnviz.arithmetic import InputTooSmall


class UnsupportedLayer(ValueError):
    """An operation whose effect on the receptive field this engine cannot follow."""


class UnknownLayer(ValueError):
    """A layer name that is not in the model."""


@dataclass(frozen=True)
class ReceptiveField:
    """What one layer's units see of the input, per axis (H, W).

    `start` is the top/left edge of unit (0, 0)'s field in input pixels (negative where it
    reaches into the padding). A global layer (after global pooling, flatten or a fully
    connected layer) sees the whole input: rf = input size, start 0, jump = input size.
    `exact` is False only after an adaptive pool whose output size does not divide its input.
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
        top = round(self.start[0] + i * self.jump[0])
        left = round(self.start[1] + j * self.jump[1])
        return top, left, top + self.rf[0] - 1, left + self.rf[1] - 1


class _Trace(NamedTuple):
    """Unit 0's input interval [lo, hi] and the jump, per spatial axis."""

    lo: tuple[float, ...]
    hi: tuple[float, ...]
    jump: tuple[float, ...]
    is_global: bool = False
    exact: bool = True


_GLOBAL = _Trace((), (), (), is_global=True)


def _union(traces: list[_Trace]) -> _Trace:
    """A unit fed by several paths sees the union of their fields (min lo, max hi)."""
    if any(t.is_global for t in traces):
        return _GLOBAL
    first = traces[0]
    if all(t == first for t in traces):
        return first
    jumps = {t.jump for t in traces}
    return _Trace(
        lo=tuple(min(v) for v in zip(*(t.lo for t in traces), strict=True)),
        hi=tuple(max(v) for v in zip(*(t.hi for t in traces), strict=True)),
        jump=tuple(max(v) for v in zip(*jumps, strict=True)),
        # Paths with different jumps drift apart unit by unit: unit 0's union is then a guess.
        exact=len(jumps) == 1 and all(t.exact for t in traces),
    )


def _ints(v: Any, d: int) -> tuple[int, ...]:
    """An int or a sequence of ints as a d-tuple (length-1 sequences are repeated)."""
    if isinstance(v, int):
        return (v,) * d
    v = tuple(int(x) for x in v)
    return v * d if len(v) == 1 else v


def _arg(args: tuple, kwargs: dict, index: int, name: str, default: Any) -> Any:
    if len(args) > index:
        return args[index]
    return kwargs.get(name, default)


def _op_name(func: Callable) -> str:
    name = getattr(func, "__name__", None) or repr(func)
    return name.removesuffix("_") if name.endswith("_") and not name.startswith("_") else name


def _size(shape: tuple[int, ...]) -> str:
    return "x".join(str(s) for s in shape)


# --- Rules: how one operation changes (lo, hi, jump). ---------------------------------------


def _window(
    trace: _Trace,
    kernel: tuple[int, ...],
    stride: tuple[int, ...],
    padding: tuple[int, ...],
    dilation: tuple[int, ...],
) -> _Trace:
    """A sliding window (conv or pool): Araujo et al.'s recurrence, per axis."""
    lo, hi, jump = [], [], []
    for a in range(len(trace.jump)):
        k_eff = dilation[a] * (kernel[a] - 1) + 1
        j = trace.jump[a]
        lo.append(trace.lo[a] - padding[a] * j)
        hi.append(trace.hi[a] + (k_eff - 1 - padding[a]) * j)
        jump.append(stride[a] * j)
    return _Trace(tuple(lo), tuple(hi), tuple(jump), exact=trace.exact)


def _conv_geometry(args: tuple, kwargs: dict) -> tuple[tuple[int, ...], ...]:
    weight = _arg(args, kwargs, 1, "weight", None)
    kernel = tuple(weight.shape[2:])
    d = len(kernel)
    stride = _ints(_arg(args, kwargs, 3, "stride", 1), d)
    dilation = _ints(_arg(args, kwargs, 5, "dilation", 1), d)
    padding = _arg(args, kwargs, 4, "padding", 0)
    if padding == "valid":
        padding = (0,) * d
    elif padding == "same":
        # PyTorch pads d(k-1) in all, the smaller half before (top/left).
        padding = tuple(dl * (k - 1) // 2 for k, dl in zip(kernel, dilation, strict=True))
    return kernel, stride, _ints(padding, d), dilation


def _pool_geometry(args: tuple, kwargs: dict, d: int, dilated: bool) -> tuple[tuple[int, ...], ...]:
    kernel = _ints(_arg(args, kwargs, 1, "kernel_size", None), d)
    stride = _arg(args, kwargs, 2, "stride", None)
    stride = kernel if stride is None or stride == [] or stride == () else _ints(stride, d)
    padding = _ints(_arg(args, kwargs, 3, "padding", 0), d)
    dilation = _ints(_arg(args, kwargs, 4, "dilation", 1), d) if dilated else (1,) * d
    return kernel, stride, padding, dilation


def _adaptive(trace: _Trace, sizes_in: tuple[int, ...], sizes_out: tuple[int, ...]) -> _Trace:
    """Adaptive pooling: a plain pool (k = s = n/o) where o divides n, else an approximation."""
    if all(o == 1 for o in sizes_out):
        return _GLOBAL
    kernel, stride, exact = [], [], trace.exact
    for n, o in zip(sizes_in, sizes_out, strict=True):
        if n % o == 0:
            kernel.append(n // o)
            stride.append(n // o)
        else:
            # Window i covers [floor(i n/o), ceil((i+1) n/o) - 1]: take the widest window and
            # the mean stride n/o.
            widths = [math.ceil((i + 1) * n / o) - (i * n) // o for i in range(o)]
            kernel.append(max(widths))
            stride.append(n / o)
            exact = False
    out = _window(trace, tuple(kernel), tuple(stride), (0,) * len(kernel), (1,) * len(kernel))
    return out._replace(exact=exact)


# Shape-preserving operations that run on every position independently; on the meta device
# normalization is skipped (its meta kernel is a slow Python decomposition). Normalization
# statistics count as constants, as in eval mode.
_NORMALIZATION = {
    F.batch_norm,
    F.instance_norm,
    F.layer_norm,
    F.group_norm,
    F.local_response_norm,
}
_CONV = {torch.conv1d: 1, torch.conv2d: 2, torch.conv3d: 3}
_MAX_POOL = {
    F.max_pool1d: 1,
    F.max_pool2d: 2,
    F.max_pool3d: 3,
    F.max_pool1d_with_indices: 1,
    F.max_pool2d_with_indices: 2,
    F.max_pool3d_with_indices: 3,
    torch.max_pool1d: 1,
    torch.max_pool2d: 2,
    torch.max_pool3d: 3,
}
_AVG_POOL = {F.avg_pool1d: 1, F.avg_pool2d: 2, F.avg_pool3d: 3}
_ADAPTIVE_POOL = {
    F.adaptive_avg_pool1d: 1,
    F.adaptive_avg_pool2d: 2,
    F.adaptive_avg_pool3d: 3,
    F.adaptive_max_pool1d: 1,
    F.adaptive_max_pool2d: 2,
    F.adaptive_max_pool3d: 3,
    F.adaptive_max_pool1d_with_indices: 1,
    F.adaptive_max_pool2d_with_indices: 2,
    F.adaptive_max_pool3d_with_indices: 3,
}
_CAT = {torch.cat, torch.concat, torch.concatenate}
# Every output mixes the whole last axis: the whole input.
_MIXING = {"linear", "bilinear", "matmul", "mm", "bmm", "addmm", "baddbmm", "einsum", "tensordot"}
# Shape changes that fold the spatial axes into others, and reductions over them: whole input.
_COLLAPSING = {
    "flatten", "view", "reshape", "squeeze", "unflatten", "view_as", "reshape_as",
    "mean", "sum", "amax", "amin", "max", "min", "std", "var", "logsumexp", "norm", "prod",
    "median", "nanmean", "nansum", "argmax", "argmin", "count_nonzero", "all", "any",
}  # fmt: skip
# Operations along one axis (dim argument); over a spatial axis every output sees all of it.
_ALONG_DIM = {"softmax", "log_softmax", "cumsum", "cumprod", "sort", "argsort", "normalize"}
# Spatial remappings and resamplings this engine does not follow: an error, never a guess.
_REMAPPING = (
    "conv", "pool", "fold", "interpolate", "upsample", "pad", "grid_sample", "affine_grid",
    "flip", "roll", "rot90", "gather", "scatter", "take", "diagonal",
)  # fmt: skip
# Axis moves: fine on channels (a channel shuffle), an error on a spatial axis.
_MOVES = ("transpose", "permute", "movedim", "moveaxis", "swapaxes", "swapdims")


class _FieldTracer(TorchFunctionMode):
    """Follows every torch function call and tags each output tensor with its field trace."""

    def __init__(self, axes: int):
        super().__init__()
        self.axes = axes
        # id -> (tensor, trace); the tensor is held so that its id is not reused meanwhile.
        self.traces: dict[int, tuple[torch.Tensor, _Trace]] = {}
        self.modules: list[str] = []

    def trace_of(self, t: Any) -> _Trace | None:
        entry = self.traces.get(id(t))
        return entry[1] if entry is not None and entry[0] is t else None

    def tag(self, out: Any, trace: _Trace) -> None:
        for t in _tensors(out):
            self.traces[id(t)] = (t, trace)

    def fail(self, func: Callable, why: str) -> UnsupportedLayer:
        where = f" in layer '{self.modules[-1]}'" if self.modules else ""
        return UnsupportedLayer(
            f"cannot follow the receptive field through {_op_name(func)}{where}: {why}"
        )

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        traced = [(t, tr) for t in _tensors((args, kwargs)) if (tr := self.trace_of(t)) is not None]
        if not traced:
            return func(*args, **kwargs)
        trace = _union([tr for _, tr in traced])
        x = traced[0][0]
        if func in _NORMALIZATION:
            out = torch.empty_like(x) if x.is_meta else func(*args, **kwargs)
            self.tag(out, trace)
            return out
        out = func(*args, **kwargs)
        if not trace.is_global:
            trace = self.rule(func, args, kwargs, trace, x, out)
        # x[...] = y writes in place and returns nothing: x now holds what y saw too.
        self.tag(args[0] if out is None and _op_name(func) == "__setitem__" else out, trace)
        return out

    def rule(
        self, func: Callable, args: tuple, kwargs: dict, trace: _Trace, x: torch.Tensor, out: Any
    ) -> _Trace:
        """The trace of `out`, computed by `func` from inputs whose union trace is `trace`."""
        d = self.axes
        dims = _CONV.get(func) or _MAX_POOL.get(func) or _AVG_POOL.get(func)
        dims = dims or _ADAPTIVE_POOL.get(func)
        if dims is not None:
            if dims != d or args[0] is not x:
                raise self.fail(func, f"a {dims}-d operation on a {d}-d feature map")
            if func in _CONV:
                return _window(trace, *_conv_geometry(args, kwargs))
            if func in _ADAPTIVE_POOL:
                result = next(_tensors(out))
                return _adaptive(trace, tuple(x.shape[-d:]), tuple(result.shape[-d:]))
            return _window(trace, *_pool_geometry(args, kwargs, d, dilated=func in _MAX_POOL))
        name = _op_name(func)
        if name in _MIXING:
            return _GLOBAL
        if func in _CAT:
            dim = _arg(args, kwargs, 1, "dim", 0)
            if dim % x.dim() >= x.dim() - d:
                raise self.fail(func, "it concatenates along a spatial axis")
            return trace
        if name in _ALONG_DIM:
            dim = _arg(args, kwargs, 1, "dim", None)
            if dim is None or dim % x.dim() >= x.dim() - d:
                return _GLOBAL
            return trace
        if name == "__getitem__":
            return self.indexed(func, args[1], trace, x, out)
        # Anything else must keep every position where it was: elementwise ops, activations,
        # dropout, adding a skip connection (in place or not), channel-wise indexing.
        space = tuple(x.shape[-d:])
        result = next(_tensors(out), None)
        if result is None:
            return trace
        same = result.dim() >= d and tuple(result.shape[-d:]) == space
        if any(tuple(t.shape[-d:]) != space for t in _tensors((args, kwargs)) if self.trace_of(t)):
            raise self.fail(func, "it combines feature maps of different sizes")
        # Shape-keeping remappings (a flip, a 'same' transposed conv) would pass the check below.
        if any(word in name for word in _REMAPPING):
            raise self.fail(func, "it moves or resamples positions")
        if name in _MOVES and _moves_space(name, args, kwargs, x.dim(), d):
            raise self.fail(func, "it moves a spatial axis")
        if same:
            return trace
        if name in _COLLAPSING:
            return _GLOBAL
        raise self.fail(
            func, f"it changes the feature map from {_size(space)} to {_size(result.shape[-d:])}"
        )

    def indexed(
        self, func: Callable, index: Any, trace: _Trace, x: torch.Tensor, out: Any
    ) -> _Trace:
        """x[...]: allowed when the spatial axes are kept whole (x[:, 0] picks a channel)."""
        index = index if isinstance(index, tuple) else (index,)
        if any(i is Ellipsis for i in index):
            tail = index[index.index(Ellipsis) + 1 :]
            on_space = [i for i in tail if i is not None][-self.axes :]
        else:
            used = [i for i in index if i is not None]
            on_space = used[x.dim() - self.axes :]
        if all(isinstance(i, slice) and i == slice(None) for i in on_space):
            return trace
        raise self.fail(func, "it indexes a spatial axis")


def _moves_space(name: str, args: tuple, kwargs: dict, ndim: int, d: int) -> bool:
    """Whether a transpose/permute-like call moves a spatial axis (channel shuffles do not)."""
    space = set(range(ndim - d, ndim))
    if name == "permute":
        order = args[1:] if len(args) > 2 else _arg(args, kwargs, 1, "dims", ())
        return any(int(order[a]) % ndim != a for a in space)
    if name in ("movedim", "moveaxis"):
        moved = [
            *_ints(_arg(args, kwargs, 1, "source", ()), 1),
            *_ints(_arg(args, kwargs, 2, "destination", ()), 1),
        ]
    else:
        moved = [_arg(args, kwargs, 1, "dim0", 0), _arg(args, kwargs, 2, "dim1", 0)]
    moved = {int(v) % ndim for v in moved}
    return len(moved) > 1 and bool(moved & space)


def _tensors(obj: Any) -> Iterator[torch.Tensor]:
    """Tensors in an argument tree (tuples, lists, dicts), in order."""
    if isinstance(obj, torch.Tensor):
        yield obj
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from _tensors(v)
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _tensors(v)


def _field(
    name: str, module: nn.Module, trace: _Trace, out: torch.Tensor, space: tuple[int, ...]
) -> ReceptiveField:
    shape = tuple(out.shape[1:])
    kind = type(module).__name__
    leaf = not any(True for _ in module.children())
    if trace.is_global:
        zero = (0,) * len(space)
        return ReceptiveField(name, kind, space, space, zero, shape, is_global=True, leaf=leaf)
    return ReceptiveField(
        name=name,
        type=kind,
        rf=tuple(round(h - lo) + 1 for lo, h in zip(trace.lo, trace.hi, strict=True)),
        jump=tuple(_number(j) for j in trace.jump),
        start=tuple(round(lo) for lo in trace.lo),
        output_shape=shape,
        exact=trace.exact,
        leaf=leaf,
    )


def _number(v: float) -> float:
    return int(v) if float(v).is_integer() else round(float(v), 2)


def field_calls(
    model: nn.Module, input_size: tuple[int, ...], label: str = "model"
) -> list[ReceptiveField]:
    """The receptive field of every module call, in the order the outputs are computed.

    A module called several times (torchvision's ResNet reuses its ReLU) appears once per call.
    Runs on the model's device; on the meta device nothing is allocated.
    """
    axes = len(input_size) - 1
    space = tuple(int(s) for s in input_size[1:])
    tracer = _FieldTracer(axes)
    calls: list[ReceptiveField] = []
    modules = {m: n for n, m in model.named_modules() if n}

    def enter(module: nn.Module, _inputs: Any) -> None:
        tracer.modules.append(modules[module])

    def leave(module: nn.Module, _inputs: Any, output: Any) -> None:
        name = tracer.modules.pop()
        out = next((t for t in _tensors(output) if tracer.trace_of(t) is not None), None)
        if out is not None:
            calls.append(_field(name, module, tracer.trace_of(out), out, space))

    handles = []
    for module in modules:
        handles.append(module.register_forward_pre_hook(enter))
        handles.append(module.register_forward_hook(leave))
    param = next((p for p in model.parameters() if p.is_floating_point()), None)
    device = param.device if param is not None else torch.device("meta")
    dtype = param.dtype if param is not None else torch.float32
    x = torch.zeros((1, *input_size), device=device, dtype=dtype)
    tracer.traces[id(x)] = (x, _Trace((0,) * axes, (0,) * axes, (1,) * axes))
    modes = {m: m.training for m in model.modules()}  # restored one by one afterwards
    model.eval()
    try:
        with torch.no_grad(), tracer:
            model(x)
    except UnsupportedLayer:
        raise
    except Exception as err:  # a layer that cannot take this input: one clear sentence
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0]
        small = any(s in reason.lower() for s in ("too small", "greater than", "kernel size"))
        where = f": layer '{tracer.modules[-1]}' fails" if tracer.modules else ""
        raise InputTooSmall(
            f"A {_size((*input_size[1:], input_size[0]))} input "
            f"{'is too small for' if small else 'does not fit'} {label}{where} ({reason})"
        ) from None
    finally:
        for h in handles:
            h.remove()
        for m, training in modes.items():
            m.training = training
    return calls


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
    try:
        with torch.device("meta"):
            model = registry.build(name, input_size=input_size, **dict(options))
    except InputTooSmall as err:
        c, h, w = input_size
        raise InputTooSmall(f"A {h}x{w}x{c} input is too small for {name}: {err}") from None
    return tuple(field_calls(model, input_size, label=name))


def _key(name: str, input_size: Any, options: dict[str, Any]) -> tuple:
    arch = registry.get(name)
    size = tuple(int(v) for v in (input_size or arch.default_input))
    if len(size) != 3 or min(size) < 1:
        raise ValueError(f"input size must be three positive integers C,H,W; got {size}")
    frozen = tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in options.items()))
    return name, size, frozen


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
    """The numbers a student reads off a layer, labelled, for metrics or a table row."""
    jump = f"{field.jump[0]}" + ("" if field.jump[0] == field.jump[1] else f" x {field.jump[1]}")
    rows, cols = field.grid
    return {
        "Receptive field (px)": f"{field.rf[0]}x{field.rf[1]}",
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
    if not field.exact:
        return (
            "Approximate: an adaptive pool whose output size does not divide its input has "
            "windows of unequal size; shown with the widest window and the mean stride."
        )
    return None


def telling_layer(fields: dict[str, ReceptiveField], input_size: tuple[int, int, int]) -> str:
    """The layer with the largest field that still fits in the input, named shortest
    (layer3 rather than layer3.1.conv2): a good first layer to look at."""
    fitting = [f for f in fields.values() if not f.is_global and 1 < f.rf[0] <= input_size[1]]
    if not fitting:
        return next(iter(fields))
    largest = max(f.rf[0] for f in fitting)
    return min((f for f in fitting if f.rf[0] == largest), key=lambda f: f.name.count(".")).name


# --- Effective receptive field (Luo et al. 2016) --------------------------------------------


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
        captured.append(next(_tensors(output)))
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


# --- VGG: stacks of 3x3 convolutions (lecture section 6) ------------------------------------


def stacked_3x3(n: int, channels: int) -> nn.Sequential:
    """n stacked 3x3 convolutions (stride 1, pad 1, no bias), each followed by a ReLU."""
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    for i in range(1, n + 1):
        layers[f"conv{i}"] = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        layers[f"relu{i}"] = nn.ReLU(inplace=True)
    return nn.Sequential(layers)


def single_conv(kernel: int, channels: int) -> nn.Sequential:
    """One kernel x kernel convolution ('same' padding, no bias) and its ReLU."""
    return nn.Sequential(
        OrderedDict(
            conv1=nn.Conv2d(channels, channels, kernel, padding=kernel // 2, bias=False),
            relu1=nn.ReLU(inplace=True),
        )
    )


@dataclass(frozen=True)
class StackingRow:
    """n stacked 3x3 convolutions against the one (2n+1)x(2n+1) convolution they replace."""

    n: int
    kernel: int
    stacked_rf: int
    single_rf: int
    stacked_params: int
    single_params: int
    stacked_nonlinearities: int
    single_nonlinearities: int


def stacking_table(channels: int, depths: range = range(1, 5)) -> list[StackingRow]:
    """Receptive field, parameters (no biases) and ReLUs of each stack and its single conv."""
    from cnnviz.analysis import analyze_module  # analysis imports torchinfo: load it lazily

    if channels < 1:
        raise ValueError(f"channels must be at least 1, not {channels}")
    rows = []
    for n in depths:
        kernel = 2 * n + 1
        size = (channels, 4 * kernel, 4 * kernel)
        with torch.device("meta"):
            stack, single = stacked_3x3(n, channels), single_conv(kernel, channels)
        stacked_rf = receptive_fields(stack, size)[f"conv{n}"].rf[0]
        single_rf = receptive_fields(single, size)["conv1"].rf[0]
        rows.append(
            StackingRow(
                n=n,
                kernel=kernel,
                stacked_rf=stacked_rf,
                single_rf=single_rf,
                stacked_params=analyze_module(stack, size, f"{n} x 3x3").total_params,
                single_params=analyze_module(single, size, f"{kernel}x{kernel}").total_params,
                stacked_nonlinearities=n,
                single_nonlinearities=1,
            )
        )
    return rows
