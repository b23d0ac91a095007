"""Following receptive fields through a forward pass: how each torch operation changes them.

Every tensor computed from the input is tagged with what unit 0 of its feature map sees per axis
(the input interval [lo, hi]) and the jump; a conv or pool applies Araujo et al.'s recurrence
(see `cnnviz.receptive_field`), a merge takes the union, anything that moves positions in a way
this tracer cannot follow raises UnsupportedLayer.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

from cnnviz.errors import UnsupportedLayer

__all__ = ["FieldTracer", "Trace", "UnsupportedLayer", "tensors"]


Span = tuple[float, float]  # one unit's input interval [lo, hi] along one axis


class Trace(NamedTuple):
    """Unit 0's input interval [lo, hi] and the jump, per spatial axis.

    Unit i sees [lo + i*jump, hi + i*jump], unless `spans` is set: then the units are not evenly
    spaced (after an adaptive pool whose output does not divide its input), `spans[a][i]` is
    unit i's interval along axis a, and `jump` is only the mean spacing.
    """

    lo: tuple[float, ...]
    hi: tuple[float, ...]
    jump: tuple[float, ...]
    is_global: bool = False
    exact: bool = True
    spans: tuple[tuple[Span, ...], ...] | None = None


_GLOBAL = Trace((), (), (), is_global=True)


def _spans(trace: Trace, sizes: tuple[int, ...]) -> tuple[tuple[Span, ...], ...]:
    """Every unit's interval per axis, for a feature map of `sizes` units."""
    if trace.spans is not None:
        return trace.spans
    return tuple(
        tuple((lo + i * j, hi + i * j) for i in range(n))
        for lo, hi, j, n in zip(trace.lo, trace.hi, trace.jump, sizes, strict=True)
    )


def _from_spans(
    spans: tuple[tuple[Span, ...], ...], nominal: tuple[float, ...], exact: bool
) -> Trace:
    """A trace from per-unit intervals: evenly spaced, equal intervals collapse back to
    (lo, hi, jump); otherwise the spans are kept and `nominal` is the mean jump."""
    jumps = []
    uniform = True
    for axis, j in zip(spans, nominal, strict=True):
        widths = {hi - lo for lo, hi in axis}
        steps = {b[0] - a[0] for a, b in itertools.pairwise(axis)}
        uniform = uniform and len(widths) == 1 and len(steps) <= 1
        jumps.append(steps.pop() if len(steps) == 1 else j)
    return Trace(
        lo=tuple(axis[0][0] for axis in spans),
        hi=tuple(axis[0][1] for axis in spans),
        jump=tuple(jumps) if uniform else tuple(nominal),
        exact=exact,
        spans=None if uniform else spans,
    )


def _union(traced: list[tuple[torch.Tensor, Trace]], axes: int) -> Trace:
    """A unit fed by several paths sees the union of their fields (min lo, max hi)."""
    traces = [t for _, t in traced]
    if any(t.is_global for t in traces):
        return _GLOBAL
    first = traces[0]
    if all(t == first for t in traces):
        return first
    jumps = {t.jump for t in traces}
    sizes = {tuple(x.shape[-axes:]) for x, _ in traced}
    if len(jumps) == 1 and all(t.spans is None for t in traces):
        return Trace(
            lo=tuple(min(v) for v in zip(*(t.lo for t in traces), strict=True)),
            hi=tuple(max(v) for v in zip(*(t.hi for t in traces), strict=True)),
            jump=first.jump,
            exact=all(t.exact for t in traces),
        )
    if len(sizes) != 1:  # maps of different sizes: the rule that follows refuses them
        return first
    # Uneven units or different jumps (paths that drift apart): unit by unit.
    (size,) = sizes
    every = [_spans(t, size) for t in traces]
    spans = tuple(
        tuple(
            (min(u[0] for u in units), max(u[1] for u in units))
            for units in zip(*(s[a] for s in every), strict=True)
        )
        for a in range(axes)
    )
    nominal = tuple(max(v) for v in zip(*jumps, strict=True))
    return _from_spans(spans, nominal, all(t.exact for t in traces))


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


def _window_spans(
    trace: Trace,
    sizes: tuple[tuple[int, int], ...],
    windows: list[list[range]],
    nominal: tuple[float, ...],
) -> Trace:
    """Unit by unit: output unit i of axis a sees the union of its window's input units.

    Indices outside the input (zero padding) add no input pixels; a window that holds only
    padding (possible for a conv with large padding) borrows its nearest unit, flagged inexact.
    """
    spans_in = _spans(trace, tuple(n for n, _ in sizes))
    exact = trace.exact
    spans = []
    for axis, (n, _o), axis_windows in zip(spans_in, sizes, windows, strict=True):
        out = []
        for window in axis_windows:
            inside = [k for k in window if 0 <= k < n]
            if not inside:
                inside, exact = [min(max(window[0], 0), n - 1)], False
            out.append((min(axis[k][0] for k in inside), max(axis[k][1] for k in inside)))
        spans.append(tuple(out))
    return _from_spans(tuple(spans), nominal, exact)


def _sliding_spans(
    trace: Trace,
    sizes: tuple[tuple[int, int], ...],
    kernel: tuple[int, ...],
    stride: tuple[int, ...],
    padding: tuple[int, ...],
    dilation: tuple[int, ...],
) -> Trace:
    """A conv or pool on a map whose units are unevenly spaced (see `_window_spans`)."""
    windows = [
        [range(i * s - p, i * s - p + d * (k - 1) + 1, d) for i in range(o)]
        for (_n, o), k, s, p, d in zip(sizes, kernel, stride, padding, dilation, strict=True)
    ]
    nominal = tuple(s * j for s, j in zip(stride, trace.jump, strict=True))
    return _window_spans(trace, sizes, windows, nominal)


def _adaptive(trace: Trace, sizes_in: tuple[int, ...], sizes_out: tuple[int, ...]) -> Trace:
    """Adaptive pooling: output unit i pools input units floor(i n/o) to ceil((i+1) n/o) - 1
    (PyTorch's windows). Where o divides n these are a plain pool (k = s = n/o); otherwise
    the windows differ in size and spacing and every unit gets its own interval."""
    if all(o == 1 for o in sizes_out):
        return _GLOBAL
    windows = [
        [range((i * n) // o, -((-(i + 1) * n) // o)) for i in range(o)]
        for n, o in zip(sizes_in, sizes_out, strict=True)
    ]
    nominal = tuple(j * n / o for j, n, o in zip(trace.jump, sizes_in, sizes_out, strict=True))
    return _window_spans(trace, tuple(zip(sizes_in, sizes_out, strict=True)), windows, nominal)


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
        trace = _union(traced, self.axes)
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
            sizes_in, sizes_out = tuple(x.shape[-d:]), tuple(next(tensors(out)).shape[-d:])
            if func in _ADAPTIVE_POOL:
                return _adaptive(trace, sizes_in, sizes_out)
            if func in _CONV:
                geometry = _conv_geometry(args, kwargs)
            else:
                geometry = _pool_geometry(args, kwargs, d, dilated=func in _MAX_POOL)
            if trace.spans is not None:
                return _sliding_spans(
                    trace, tuple(zip(sizes_in, sizes_out, strict=True)), *geometry
                )
            return _window(trace, *geometry)
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
