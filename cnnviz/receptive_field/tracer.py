"""Following receptive fields through a forward pass: how each torch operation changes them.

Every tensor computed from the input is tagged with what unit 0 of its feature map sees per axis
(the input interval [lo, hi]) and the jump; a conv or pool applies Araujo et al.'s recurrence
(see `cnnviz.receptive_field`), a merge takes the union, anything that moves positions in a way
this tracer cannot follow raises UnsupportedLayer.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

from cnnviz.errors import UnsupportedLayer

__all__ = ["FieldTracer", "Trace", "UnsupportedLayer", "tensors"]


class Trace(NamedTuple):
    """Unit 0's input interval [lo, hi] and the jump, per spatial axis."""

    lo: tuple[float, ...]
    hi: tuple[float, ...]
    jump: tuple[float, ...]
    is_global: bool = False
    exact: bool = True


_GLOBAL = Trace((), (), (), is_global=True)


def _union(traces: list[Trace]) -> Trace:
    """A unit fed by several paths sees the union of their fields (min lo, max hi)."""
    if any(t.is_global for t in traces):
        return _GLOBAL
    first = traces[0]
    if all(t == first for t in traces):
        return first
    jumps = {t.jump for t in traces}
    return Trace(
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
    trace: Trace,
    kernel: tuple[int, ...],
    stride: tuple[int, ...],
    padding: tuple[int, ...],
    dilation: tuple[int, ...],
) -> Trace:
    """A sliding window (conv or pool): Araujo et al.'s recurrence, per axis."""
    lo, hi, jump = [], [], []
    for a in range(len(trace.jump)):
        k_eff = dilation[a] * (kernel[a] - 1) + 1
        j = trace.jump[a]
        lo.append(trace.lo[a] - padding[a] * j)
        hi.append(trace.hi[a] + (k_eff - 1 - padding[a]) * j)
        jump.append(stride[a] * j)
    return Trace(tuple(lo), tuple(hi), tuple(jump), exact=trace.exact)


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


def _adaptive(trace: Trace, sizes_in: tuple[int, ...], sizes_out: tuple[int, ...]) -> Trace:
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


class FieldTracer(TorchFunctionMode):
    """Follows every torch function call and tags each output tensor with its field trace."""

    def __init__(self, axes: int):
        super().__init__()
        self.axes = axes
        # id -> (tensor, trace); the tensor is held so that its id is not reused meanwhile.
        self.traces: dict[int, tuple[torch.Tensor, Trace]] = {}
        self.modules: list[str] = []

    def trace_of(self, t: Any) -> Trace | None:
        entry = self.traces.get(id(t))
        return entry[1] if entry is not None and entry[0] is t else None

    def tag(self, out: Any, trace: Trace) -> None:
        for t in tensors(out):
            self.traces[id(t)] = (t, trace)

    def fail(self, func: Callable, why: str) -> UnsupportedLayer:
        where = f" in layer '{self.modules[-1]}'" if self.modules else ""
        return UnsupportedLayer(
            f"cannot follow the receptive field through {_op_name(func)}{where}: {why}"
        )

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        traced = [(t, tr) for t in tensors((args, kwargs)) if (tr := self.trace_of(t)) is not None]
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
        self, func: Callable, args: tuple, kwargs: dict, trace: Trace, x: torch.Tensor, out: Any
    ) -> Trace:
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
                result = next(tensors(out))
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
        result = next(tensors(out), None)
        if result is None:
            return trace
        same = result.dim() >= d and tuple(result.shape[-d:]) == space
        if any(tuple(t.shape[-d:]) != space for t in tensors((args, kwargs)) if self.trace_of(t)):
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

    def indexed(self, func: Callable, index: Any, trace: Trace, x: torch.Tensor, out: Any) -> Trace:
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


def tensors(obj: Any) -> Iterator[torch.Tensor]:
    """Tensors in an argument tree (tuples, lists, dicts), in order."""
    if isinstance(obj, torch.Tensor):
        yield obj
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from tensors(v)
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from tensors(v)
