"""Conv and pool arithmetic: output sizes, parameters and MACs, with worked formulas."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from itertools import islice
from typing import TYPE_CHECKING

from torch import nn

if TYPE_CHECKING:  # analysis imports this module; the types are only for annotations
    from cnnviz.analysis import Analysis, Layer


class InputTooSmall(ValueError):
    """An input that a layer of the network cannot take (names the layer)."""


def pair(v: int | tuple[int, ...]) -> tuple[int, int]:
    """(v, v) for an int, the tuple itself for a pair."""
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


def output_length(
    n: int,
    kernel: int,
    stride: int = 1,
    padding: int = 0,
    dilation: int = 1,
    ceil_mode: bool = False,
) -> int:
    """Output length along one axis, as PyTorch computes it: floor((n + 2p - d(k-1) - 1)/s) + 1."""
    span = n + 2 * padding - dilation * (kernel - 1) - 1
    if span < 0:
        return 0
    out = (math.ceil(span / stride) if ceil_mode else span // stride) + 1
    # PyTorch: with ceil_mode the last window must start inside the input or left padding.
    if ceil_mode and (out - 1) * stride >= n + padding:
        out -= 1
    return out


def geometry(module: nn.Module) -> dict[str, tuple[int, int]] | None:
    """Kernel, stride, padding, dilation of a conv or pool layer (None for other layers)."""
    if not (hasattr(module, "kernel_size") and hasattr(module, "stride")):
        return None
    padding = module.padding
    if isinstance(padding, str):
        raise ValueError(f"string padding {padding!r} is not supported")
    return {
        "kernel": pair(module.kernel_size),
        "stride": pair(module.stride if module.stride is not None else module.kernel_size),
        "padding": pair(padding),
        "dilation": pair(getattr(module, "dilation", 1)),
    }


def feature_size(
    layers: Iterable[tuple[str, nn.Module]], input_size: tuple[int, int, int]
) -> tuple[int, int, int]:
    """C, H, W after a chain of layers (named), without running them; raises InputTooSmall."""
    c, h, w = input_size
    for name, m in layers:
        g = geometry(m)
        if g is not None:
            ceil = bool(getattr(m, "ceil_mode", False))
            dims = [
                output_length(n, k, s, p, d, ceil)
                for n, k, s, p, d in zip(
                    (h, w), g["kernel"], g["stride"], g["padding"], g["dilation"], strict=True
                )
            ]
            if min(dims) < 1:
                raise InputTooSmall(
                    f"layer '{name}' ({type(m).__name__}, kernel {g['kernel'][0]}, "
                    f"stride {g['stride'][0]}, padding {g['padding'][0]}) cannot fit "
                    f"its {h}x{w}x{c} input"
                )
            h, w = dims
        c = getattr(m, "out_channels", c)
    return c, h, w


def worked_output_length(
    n: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1
) -> str:
    """The output-size formula with the numbers, e.g. '(227 - 11 + 2*0)/4 + 1 = 55'."""
    k = kernel if dilation == 1 else dilation * (kernel - 1) + 1
    k_text = str(kernel) if dilation == 1 else f"{dilation}*({kernel} - 1) + 1"
    span = n - k + 2 * padding
    exact = span / stride + 1
    out = output_length(n, kernel, stride, padding, dilation)
    text = f"({n} - {k_text} + 2*{padding})/{stride} + 1"
    if span % stride == 0:
        return f"{text} = {out}"
    return f"{text} = {exact:.2f}, floored to {out}"


def worked_conv_params(
    kernel: tuple[int, int], in_channels: int, filters: int, groups: int = 1, bias: bool = True
) -> str:
    """The parameter count with the numbers, e.g. '11*11*3*96 + 96 = 34,944'."""
    kh, kw = kernel
    per_filter_in = in_channels // groups
    weights = kh * kw * per_filter_in * filters
    c_text = str(in_channels) if groups == 1 else f"({in_channels}/{groups})"
    text = f"{kh}*{kw}*{c_text}*{filters}"
    total = weights + (filters if bias else 0)
    return f"{text} + {filters} = {total:,}" if bias else f"{text} = {total:,}"


# --- The layer calculator: one conv or pool layer, its problems and the nearest settings that fit.

LAYER_TYPES = ("convolution", "max pool", "average pool")


@dataclass(frozen=True)
class LayerSpec:
    """One conv or pool layer (square kernel) on one H x W x C input; defaults: AlexNet CONV1."""

    layer_type: str = "convolution"
    height: int = 227
    width: int = 227
    channels: int = 3
    kernel: int = 11
    stride: int = 4
    padding: int = 0
    dilation: int = 1
    filters: int = 96
    groups: int = 1
    ceil_mode: bool = False  # pools only; GoogLeNet's pools round up

    @property
    def is_conv(self) -> bool:
        return self.layer_type == "convolution"

    @property
    def effective_kernel(self) -> int:
        """The span a (dilated) kernel covers: d(k-1) + 1."""
        return self.dilation * (self.kernel - 1) + 1

    @property
    def out_channels(self) -> int:
        """Filters for a convolution; a pool keeps the input depth."""
        return self.filters if self.is_conv else self.channels


@dataclass(frozen=True)
class Suggestion:
    """A nearby setting that fits, e.g. 'input size 227' giving 55x55x96."""

    change: str
    spec: LayerSpec
    output: tuple[int, int, int]  # H, W, C

    @property
    def volume(self) -> str:
        h, w, c = self.output
        return f"{h}x{w}x{c}"


@dataclass(frozen=True)
class LayerArithmetic:
    """Everything the calculator shows for one layer: numbers, worked formulas, problems."""

    spec: LayerSpec
    output: tuple[int, int, int] | None  # H, W, C as PyTorch gives it; None where it refuses
    params: int
    macs: int
    worked_height: str
    worked_width: str
    worked_params: str
    worked_macs: str
    unseen_rows: tuple[int, ...]  # input rows no kernel tap ever touches
    unseen_columns: tuple[int, ...]
    problems: tuple[str, ...]
    notes: tuple[str, ...]
    suggestions: tuple[Suggestion, ...]

    @property
    def fits(self) -> bool:
        return not self.problems

    def worked_rows(self) -> list[tuple[str, str]]:
        """(quantity, formula with the numbers) for output height, width, params, MACs."""
        return [
            ("Output height", self.worked_height),
            ("Output width", self.worked_width),
            ("Parameters", self.worked_params),
            ("MACs", self.worked_macs),
        ]

    @property
    def volume(self) -> str:
        """'55x55x96' (H x W x C), or a dash where PyTorch refuses the layer."""
        if self.output is None:
            return "—"
        h, w, c = self.output
        return f"{h}x{w}x{c}"


_POSITIVE = {
    "height": "input height",
    "width": "input width",
    "channels": "input depth",
    "kernel": "kernel size",
    "stride": "stride",
    "dilation": "dilation",
    "filters": "number of filters",
    "groups": "groups",
}


def _bad_values(spec: LayerSpec) -> list[str]:
    """Values out of range: sizes below 1, negative padding."""
    bad = [
        f"{label} is {getattr(spec, field)}: it must be at least 1"
        for field, label in _POSITIVE.items()
        if getattr(spec, field) < 1 and (spec.is_conv or field not in ("filters", "groups"))
    ]
    if spec.padding < 0:
        bad.append(f"padding is {spec.padding}: it must be 0 or more")
    if spec.layer_type not in LAYER_TYPES:
        bad.append(f"unknown layer type {spec.layer_type!r}; use one of {', '.join(LAYER_TYPES)}")
    return bad


def covered(
    n: int, kernel: int, stride: int, padding: int, dilation: int = 1, ceil_mode: bool = False
) -> set[int]:
    """Input positions (0..n-1, padding excluded) that some kernel tap touches."""
    span = dilation * (kernel - 1) + 1
    outs = output_length(n, kernel, stride, padding, dilation, ceil_mode)
    taps = {i * stride + j * dilation - padding for i in range(outs) for j in range(kernel)}
    return {t for t in taps if 0 <= t < n} if span <= n + 2 * padding else set()


def _uncovered(n: int, spec: LayerSpec) -> tuple[int, ...]:
    seen = covered(n, spec.kernel, spec.stride, spec.padding, spec.dilation, spec.ceil_mode)
    return tuple(i for i in range(n) if i not in seen)


def _axes(spec: LayerSpec) -> list[tuple[int, str, str]]:
    """(input length, axis name, what its lines are called); one entry when H == W."""
    if spec.height == spec.width:
        return [(spec.height, "height and width", "rows and columns")]
    return [(spec.height, "height", "rows"), (spec.width, "width", "columns")]


def _refusals(spec: LayerSpec) -> list[str]:
    """Settings PyTorch refuses (raises an error for), values already in range."""
    out: list[str] = []
    ke = spec.effective_kernel
    for n, axis, _ in _axes(spec):
        if ke > n + 2 * spec.padding:
            kernel = f"{spec.kernel}" if spec.dilation == 1 else f"{spec.kernel} (dilated: {ke})"
            out.append(
                f"The kernel ({kernel}) is larger than the padded input {axis} "
                f"({n} + 2*{spec.padding} = {n + 2 * spec.padding}): there is no room for even "
                "one position, PyTorch raises an error."
            )
    if not spec.is_conv and spec.padding > spec.kernel // 2:
        out.append(
            f"Padding {spec.padding} is more than half the kernel ({spec.kernel}//2 = "
            f"{spec.kernel // 2}): PyTorch refuses this for pooling (a window could hold only "
            "padding)."
        )
    if spec.layer_type == "average pool" and spec.dilation != 1:
        out.append("Average pooling has no dilation in PyTorch (nn.AvgPool2d): use dilation 1.")
    return out + _group_mismatch(spec)


def _group_mismatch(spec: LayerSpec) -> list[str]:
    """Input depth or filters not divisible by groups (nn.Conv2d raises)."""
    if not spec.is_conv or spec.groups < 1:
        return []
    return [
        f"The {what} {count} is not divisible by groups {spec.groups}: each group needs the "
        "same number of channels, PyTorch raises an error."
        for count, what in ((spec.channels, "input depth"), (spec.filters, "number of filters"))
        if count >= 1 and count % spec.groups
    ]


def _ragged(spec: LayerSpec) -> list[str]:
    """Non-integer (n - k + 2p)/s + 1 along an axis: PyTorch floors, rows/columns go unseen."""
    out: list[str] = []
    for n, axis, lines in _axes(spec):
        span = n - spec.effective_kernel + 2 * spec.padding
        if span % spec.stride and not spec.ceil_mode:
            left = span % spec.stride  # padded positions after the last window
            real = max(0, left - spec.padding)
            k = spec.kernel if spec.dilation == 1 else spec.effective_kernel
            floored = output_length(n, spec.kernel, spec.stride, spec.padding, spec.dilation)
            lost = (
                f"{_plural(real, 'input ' + lines)} never seen"
                if real
                else f"only padding is dropped ({_plural(left, 'padding ' + lines)} never seen)"
            )
            verb = "are not integers" if " and " in axis else "is not an integer"
            out.append(
                f"Output {axis} {verb}: ({n} - {k} + 2*{spec.padding})/{spec.stride} + 1 = "
                f"{span / spec.stride + 1:.2f}. PyTorch floors it to {floored}, and {lost}."
            )
    return out


def _plural(count: int, lines: str) -> str:
    """'the last input row is' / 'the last 3 input rows are' / '... row and column are'."""
    if count == 1:
        singular = lines.replace("rows", "row").replace("columns", "column")
        return f"the last {singular} {'are' if ' and ' in lines else 'is'}"
    return f"the last {count} {lines} are"


def _loose_padding(spec: LayerSpec) -> list[str]:
    """Conv padding beyond half the kernel: allowed, but the border outputs see mostly zeros."""
    half = spec.effective_kernel // 2
    if spec.is_conv and spec.padding > half:
        return [
            f"Padding {spec.padding} is more than half the kernel ({spec.effective_kernel}//2 = "
            f"{half}): PyTorch allows it for convolutions, but the border outputs look mostly "
            f"at padding zeros ('same' padding is {half})."
        ]
    return []


def layer_problems(spec: LayerSpec) -> list[str]:
    """Why this combination does not fit (empty list: it fits)."""
    bad = _bad_values(spec)
    if bad:
        return bad + _group_mismatch(spec)
    refused = _refusals(spec)
    if any("larger than the padded" in r for r in refused):
        return refused
    return refused + _ragged(spec) + _loose_padding(spec)


def refused_by_pytorch(spec: LayerSpec) -> bool:
    """True where nn.Conv2d / nn.MaxPool2d / nn.AvgPool2d would raise for these settings."""
    return bool(_bad_values(spec) or _refusals(spec))


def spec_output(spec: LayerSpec) -> tuple[int, int, int] | None:
    """H, W, C of the output as PyTorch computes it; None where PyTorch refuses."""
    if refused_by_pytorch(spec):
        return None
    h, w = (
        output_length(n, spec.kernel, spec.stride, spec.padding, spec.dilation, spec.ceil_mode)
        for n in (spec.height, spec.width)
    )
    return h, w, spec.out_channels


def worked_conv_macs(
    output_hw: tuple[int, int], filters: int, kernel: int, in_channels: int, groups: int = 1
) -> str:
    """MACs with the numbers: '55*55*96 * 11*11*3 = 105,415,200' (outputs x work per output)."""
    h, w = output_hw
    c_text = str(in_channels) if groups == 1 else f"({in_channels}/{groups})"
    macs = h * w * filters * kernel * kernel * (in_channels // groups)
    return f"{h}*{w}*{filters} * {kernel}*{kernel}*{c_text} = {macs:,}"


def _worked_axis(spec: LayerSpec, n: int) -> str:
    k, s, p, d = spec.kernel, spec.stride, spec.padding, spec.dilation
    if spec.effective_kernel > n + 2 * p:
        exact = (n - spec.effective_kernel + 2 * p) / s + 1
        k_text = str(k) if d == 1 else f"{d}*({k} - 1) + 1"
        return f"({n} - {k_text} + 2*{p})/{s} + 1 = {exact:.2f}: no room for the kernel"
    if spec.ceil_mode and (n - spec.effective_kernel + 2 * p) % s:
        out = output_length(n, k, s, p, d, ceil_mode=True)
        k_text = str(k) if d == 1 else f"{d}*({k} - 1) + 1"
        return f"ceil(({n} - {k_text} + 2*{p})/{s}) + 1 = {out} (ceil_mode rounds up)"
    return worked_output_length(n, k, s, p, d)


# The knobs the suggestions turn, in the order they are offered.
_KNOBS = ("padding", "stride", "size", "kernel", "dilation", "groups", "filters", "channels")
_KNOB_LABEL = {"size": "input size", "channels": "input depth", "kernel": "kernel size"}
_MINIMUM = {"padding": 0}


def _knob_values(spec: LayerSpec, knob: str) -> list[int]:
    """Candidate values for one knob, nearest to the current value first."""
    current = spec.height if knob == "size" else getattr(spec, knob)
    low = _MINIMUM.get(knob, 1)
    if knob == "groups":
        candidates = range(1, max(spec.channels, 1) + 1)
    elif knob == "padding":
        candidates = range(0, max(current, 0) + spec.effective_kernel + 1)
    else:
        reach = {"size": 64, "filters": 64, "channels": 64, "dilation": 4}.get(knob, 16)
        candidates = range(low, max(current, low) + reach + 1)
    return sorted((v for v in candidates if v != current), key=lambda v: (abs(v - current), v))


def _turn(spec: LayerSpec, knob: str, value: int) -> LayerSpec:
    if knob == "size":
        return replace(spec, height=value, width=value)
    return replace(spec, **{knob: value})


def _knobs(spec: LayerSpec) -> list[str]:
    knobs = [k for k in _KNOBS if spec.is_conv or k not in ("groups", "filters", "channels")]
    if spec.dilation == 1:
        knobs.remove("dilation")  # a dilation is only offered to someone already using one
    if spec.height != spec.width:
        knobs[knobs.index("size")] = "height"
        knobs.insert(knobs.index("height") + 1, "width")
    return knobs


def _clamped(spec: LayerSpec) -> LayerSpec:
    """Out-of-range values moved to their nearest allowed value."""
    fixed = spec if spec.layer_type in LAYER_TYPES else replace(spec, layer_type="convolution")
    for knob in ("height", "width", "channels", "kernel", "stride", "dilation", "filters"):
        fixed = replace(fixed, **{knob: max(getattr(fixed, knob), 1)})
    fixed = replace(fixed, groups=max(fixed.groups, 1), padding=max(fixed.padding, 0))
    if fixed.layer_type == "average pool":
        fixed = replace(fixed, dilation=1)  # nn.AvgPool2d has none
    return fixed


def _single_changes(spec: LayerSpec, per_knob: int) -> list[LayerSpec]:
    """Settings that fit with one knob turned: each knob's nearest value, then its next."""
    found: list[tuple[int, int, LayerSpec]] = []
    for order, knob in enumerate(_knobs(spec)):
        fits = (
            c for v in _knob_values(spec, knob) if not layer_problems(c := _turn(spec, knob, v))
        )
        found += [(rank, order, c) for rank, c in enumerate(islice(fits, per_knob))]
    return [c for _, _, c in sorted(found, key=lambda t: (t[0], t[1]))]


def _severity(spec: LayerSpec) -> int:
    """How wrong a setting is: bad values weigh most, then what PyTorch refuses."""
    bad = _bad_values(spec)
    if bad:
        return 100 * len(bad)
    refused = _refusals(spec)
    return 10 * len(refused) + len(layer_problems(spec)) - len(refused)


def _first_steps(spec: LayerSpec) -> list[LayerSpec]:
    """One knob turned (each knob's nearest value) so that less is wrong."""
    now, steps = _severity(spec), []
    for knob in _knobs(spec):
        better = (
            c for v in _knob_values(spec, knob)[:12] if _severity(c := _turn(spec, knob, v)) < now
        )
        steps += list(islice(better, 1))
    return steps


def _repair(spec: LayerSpec, steps_left: int) -> LayerSpec | None:
    """A setting that fits, reached one knob at a time (None: none within `steps_left`)."""
    single = _single_changes(spec, per_knob=1)
    if single or steps_left <= 1:
        return single[0] if single else None
    return next((r for s in _first_steps(spec) if (r := _repair(s, steps_left - 1))), None)


def _two_knobs(spec: LayerSpec) -> list[LayerSpec]:
    """Every pair of knobs over their 12 nearest values, nearest pairs first: the last resort."""
    found: list[tuple[int, LayerSpec]] = []
    knobs = _knobs(spec)
    for i, first in enumerate(knobs):
        for second in knobs[i + 1 :]:
            for a_rank, a in enumerate(_knob_values(spec, first)[:12]):
                step = _turn(spec, first, a)
                fits = [
                    (a_rank + b_rank, c)
                    for b_rank, b in enumerate(_knob_values(step, second)[:12])
                    if not layer_problems(c := _turn(step, second, b))
                ]
                found += fits[:1]
    return [c for _, c in sorted(found, key=lambda t: t[0])]


def suggest_fits(spec: LayerSpec, limit: int = 6) -> list[Suggestion]:
    """The nearest settings that fit (one knob turned where one is enough), with their output."""
    if not layer_problems(spec):
        return []
    base = _clamped(spec)
    if base != spec and not layer_problems(base):
        picked = [base]
    else:
        picked = _single_changes(base, per_knob=2)
    if not picked:
        # Several problems at once: fix one, then finish each start the nearest way.
        picked = [r for s in _first_steps(base) if (r := _repair(s, steps_left=3))]
    if not picked:
        picked = _two_knobs(base)
    finals = list(dict.fromkeys(picked))[:limit]  # distinct, in order
    return [Suggestion(describe_change(spec, s), s, spec_output(s)) for s in finals]  # type: ignore[arg-type]


_FIELD_ORDER = ("layer_type", "padding", "stride", "height", "width", "kernel", "dilation")
_FIELD_ORDER += ("groups", "filters", "channels")


def describe_change(before: LayerSpec, after: LayerSpec) -> str:
    """'stride 5 → 4, input size 227 → 231': every setting that differs, old → new."""
    square = before.height == before.width and after.height == after.width
    parts = []
    for field in _FIELD_ORDER:
        old, new = getattr(before, field), getattr(after, field)
        if old == new or (field == "width" and square):
            continue
        if field == "layer_type":
            parts.append(f"layer type → {new}")
        else:
            name = (
                "input size"
                if field == "height" and square
                else _KNOB_LABEL.get(field, _POSITIVE.get(field, field))
            )
            parts.append(f"{name} {old} → {new}")
    return ", ".join(parts)


def layer_arithmetic(spec: LayerSpec) -> LayerArithmetic:
    """Output volume, parameters and MACs of one layer, worked with its numbers; its problems."""
    problems = tuple(layer_problems(spec))
    suggestions = tuple(suggest_fits(spec))
    if _bad_values(spec):
        return LayerArithmetic(
            spec, None, 0, 0, "—", "—", "—", "—", (), (), problems, (), suggestions
        )
    output = spec_output(spec)
    heights = (_worked_axis(spec, spec.height), _worked_axis(spec, spec.width))
    unseen = (_uncovered(spec.height, spec), _uncovered(spec.width, spec))
    notes: list[str] = []
    if spec.stride > spec.effective_kernel and output is not None:
        notes.append(
            f"The stride ({spec.stride}) is larger than the kernel ({spec.effective_kernel}): "
            f"the windows skip input between them ({len(unseen[0])} of {spec.height} rows never "
            "seen). ResNet's stride-2 1x1 shortcut does this on purpose."
        )
    if spec.is_conv:
        if output is None or spec.channels % spec.groups or spec.filters % spec.groups:
            params = macs = 0
            worked_params = worked_macs = "— (PyTorch refuses this layer)"
        else:
            h, w, f = output
            per_filter = spec.kernel * spec.kernel * (spec.channels // spec.groups)
            params = per_filter * f + f
            macs = h * w * f * per_filter
            worked_params = worked_conv_params(
                (spec.kernel, spec.kernel), spec.channels, f, spec.groups
            )
            worked_macs = worked_conv_macs((h, w), f, spec.kernel, spec.channels, spec.groups)
            if spec.groups > 1:
                notes.append(
                    f"Groups {spec.groups}: each filter sees only {spec.channels // spec.groups} "
                    f"of the {spec.channels} input channels (AlexNet's two-GPU split was groups 2)."
                )
    else:
        params = macs = 0
        worked_params = "0: pooling has no parameters"
        worked_macs = "0: no weights to multiply"
        if output is not None:
            h, w, c = output
            window = spec.kernel * spec.kernel
            verb = "compares" if spec.layer_type == "max pool" else "adds"
            worked_macs += (
                f" (it still {verb} {spec.kernel}*{spec.kernel} = {window} values for each of "
                f"the {h}*{w}*{c} = {h * w * c:,} outputs)"
            )
    return LayerArithmetic(
        spec=spec,
        output=output,
        params=params,
        macs=macs,
        worked_height=heights[0],
        worked_width=heights[1],
        worked_params=worked_params,
        worked_macs=worked_macs,
        unseen_rows=unseen[0],
        unseen_columns=unseen[1],
        problems=problems,
        notes=tuple(notes),
        suggestions=suggestions,
    )


# --- A whole model's layer table, and one of its layers explained like the calculator does.

TABLE_COLUMNS = ("layer", "type", "kind", "input", "output", "params", "macs")


def _volume(shape: tuple[int, ...]) -> str:
    if len(shape) == 3:
        c, h, w = shape
        return f"{h}x{w}x{c}"
    return "x".join(str(v) for v in shape)


def layer_rows(analysis: Analysis) -> list[dict[str, object]]:
    """One row per computing layer: name, type, kind, input and output volume, params, MACs."""
    return [
        {
            "layer": layer.name,
            "type": layer.type,
            "kind": layer.kind,
            "input": _volume(layer.input_shape),
            "output": _volume(layer.output_shape),
            "params": layer.params,
            "macs": layer.macs,
        }
        for layer in analysis.leaves
    ]


def layer_table_csv(analysis: Analysis) -> str:
    """The layer table as CSV text (plain integers, volumes as H x W x C)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=TABLE_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(layer_rows(analysis))
    return buffer.getvalue()


_SPEC_TYPES = {"Conv2d": "convolution", "MaxPool2d": "max pool", "AvgPool2d": "average pool"}


def spec_from_layer(layer: Layer) -> LayerSpec | None:
    """The calculator's settings for a model's Conv2d / MaxPool2d / AvgPool2d layer."""
    kind = _SPEC_TYPES.get(layer.type)
    if kind is None or len(layer.input_shape) != 3:
        return None
    c, h, w = layer.input_shape
    hyper = layer.hyper
    return LayerSpec(
        layer_type=kind,
        height=h,
        width=w,
        channels=c,
        kernel=hyper["kernel"],
        stride=hyper["stride"],
        padding=hyper.get("padding", 0),
        dilation=hyper.get("dilation", 1),
        filters=hyper.get("out_channels", c),
        groups=hyper.get("groups", 1),
        ceil_mode=hyper.get("ceil_mode", False),
    )


def explain_layer(layer: Layer) -> list[tuple[str, str]]:
    """(quantity, worked formula) pairs for one layer of an analysed model."""
    spec = spec_from_layer(layer)
    if spec is not None:
        return _explain_spec(layer, spec)
    hyper = layer.hyper
    if layer.type == "Linear":
        n_in, n_out = hyper["in_features"], hyper["out_features"]
        bias = layer.params == n_in * n_out + n_out
        rows = [
            ("Output", f"{n_out} features (one per neuron)"),
            ("Parameters", f"{n_in}*{n_out}{f' + {n_out}' if bias else ''} = {layer.params:,}"),
            ("MACs", f"{n_in}*{n_out} = {n_in * n_out:,} (every input times every neuron)"),
        ]
        return rows + _engine_check(layer, n_in * n_out + (n_out if bias else 0), n_in * n_out)
    if layer.type == "BatchNorm2d":
        c = layer.output_shape[0]
        return [
            ("Output", f"{layer.volume()} (same as its input)"),
            ("Parameters", f"2*{c} = {2 * c:,} (a scale and a shift per channel)"),
            ("MACs", "0 (not counted: no conv or fully connected weights)"),
        ]
    if "output_size" in hyper:
        size = hyper["output_size"]
        return [
            (
                "Output",
                f"{layer.volume()}: adaptive pooling always gives {size}x{size} per channel",
            ),
            ("Parameters", "0: pooling has no parameters"),
            ("MACs", "0: no weights to multiply"),
        ]
    return [
        ("Output", layer.volume()),
        ("Parameters", f"{layer.params:,}"),
        ("MACs", f"{layer.macs:,}"),
    ]


def _explain_spec(layer: Layer, spec: LayerSpec) -> list[tuple[str, str]]:
    result = layer_arithmetic(spec)
    if spec.height == spec.width:
        rows = [("Output height = width", result.worked_height)]
    else:
        rows = [("Output height", result.worked_height), ("Output width", result.worked_width)]
    if spec.is_conv:
        weights = result.params - spec.filters
        bias = layer.params != weights  # ResNet's convs have no bias (batch norm follows)
        rows += [
            ("Output depth", f"{spec.filters} (one channel per filter)"),
            (
                "Parameters",
                worked_conv_params(
                    (spec.kernel, spec.kernel), spec.channels, spec.filters, spec.groups, bias=bias
                ),
            ),
            ("MACs", result.worked_macs),
        ]
        return rows + _engine_check(layer, weights + (spec.filters if bias else 0), result.macs)
    return [
        *rows,
        ("Output depth", f"{spec.channels} (pooling keeps the depth)"),
        ("Parameters", result.worked_params),
        ("MACs", result.worked_macs),
    ]


def _engine_check(layer: Layer, params: int, macs: int) -> list[tuple[str, str]]:
    """A note where the engine's count differs from the textbook formula."""
    if layer.repeat:
        return [("Note", "this module is called again here: its parameters were counted once")]
    if (params, macs) != (layer.params, layer.macs):
        return [
            (
                "Note",
                f"the engine counts {layer.params:,} parameters and {layer.macs:,} MACs for "
                f"this {layer.type}: it does not follow the textbook formula",
            )
        ]
    return []


# --- 1x1 convolutions: reduce the depth before an expensive k x k convolution.


@dataclass(frozen=True)
class DepthReduction:
    """A k x k conv straight on the input vs a 1x1 'bottleneck' conv first (same output)."""

    direct: LayerArithmetic  # k x k conv on the full input depth
    reduce: LayerArithmetic  # 1x1 conv down to the reduced depth
    after: LayerArithmetic  # the same k x k conv on the reduced depth

    @property
    def problems(self) -> tuple[str, ...]:
        return self.direct.problems + self.reduce.problems + self.after.problems

    @property
    def bottleneck_params(self) -> int:
        return self.reduce.params + self.after.params

    @property
    def bottleneck_macs(self) -> int:
        return self.reduce.macs + self.after.macs

    @property
    def macs_saved(self) -> float:
        """Fraction of the direct MACs the bottleneck saves (0.71 = 71% fewer)."""
        return 1 - self.bottleneck_macs / self.direct.macs if self.direct.macs else 0.0

    @property
    def params_saved(self) -> float:
        return 1 - self.bottleneck_params / self.direct.params if self.direct.params else 0.0

    def worked_rows(self) -> list[tuple[str, str]]:
        """(quantity, formula with the numbers), the direct conv first."""
        k = self.direct.spec.kernel
        return [
            (f"{k}x{k} conv alone, MACs", self.direct.worked_macs),
            ("1x1 reduce, MACs", self.reduce.worked_macs),
            (f"then {k}x{k} conv, MACs", self.after.worked_macs),
            (
                "1x1 reduce + conv, MACs",
                f"{self.reduce.macs:,} + {self.after.macs:,} = {self.bottleneck_macs:,}",
            ),
            (f"{k}x{k} conv alone, parameters", self.direct.worked_params),
            ("1x1 reduce, parameters", self.reduce.worked_params),
            (f"then {k}x{k} conv, parameters", self.after.worked_params),
        ]


def depth_reduction(
    height: int, width: int, depth: int, reduced: int, kernel: int, filters: int
) -> DepthReduction:
    """Costs of a 'same' k x k conv with and without a 1x1 conv to `reduced` channels first."""
    same = LayerSpec(
        height=height, width=width, kernel=kernel, stride=1, padding=kernel // 2, filters=filters
    )
    return DepthReduction(
        direct=layer_arithmetic(replace(same, channels=depth)),
        reduce=layer_arithmetic(
            replace(same, channels=depth, kernel=1, padding=0, filters=reduced)
        ),
        after=layer_arithmetic(replace(same, channels=reduced)),
    )
