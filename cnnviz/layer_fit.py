"""Whether one conv or pool layer fits its input: what PyTorch refuses, what it floors, and the
nearest settings that fit."""

from __future__ import annotations

from dataclasses import dataclass, replace
from itertools import islice

from cnnviz.arithmetic import output_length
from cnnviz.notation import hwc

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
        return hwc(*self.output)


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


def out_of_range(spec: LayerSpec) -> list[str]:
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


def _axes(spec: LayerSpec) -> list[tuple[int, str, str]]:
    """(input length, axis name, what its lines are called); one entry when H == W."""
    if spec.height == spec.width:
        return [(spec.height, "height and width", "rows and columns")]
    return [(spec.height, "height", "rows"), (spec.width, "width", "columns")]


def _refusals(spec: LayerSpec) -> list[str]:
    """Settings PyTorch refuses (raises an error for), values already in range."""
    out: list[str] = []
    if spec.is_conv and spec.ceil_mode:
        out.append(
            "A convolution has no ceil mode (nn.Conv2d always floors): ceil mode is for "
            "max and average pooling only."
        )
    ke = spec.effective_kernel
    for n, axis, _ in _axes(spec):
        ceil = spec.ceil_mode and not spec.is_conv
        if output_length(n, spec.kernel, spec.stride, spec.padding, spec.dilation, ceil) < 1:
            kernel = f"{spec.kernel}" if spec.dilation == 1 else f"{spec.kernel} (dilated: {ke})"
            padded = f"({n} + 2*{spec.padding} = {n + 2 * spec.padding})"
            why = (
                f"by {ke - n - 2 * spec.padding}, the stride ({spec.stride}) or more: even ceil "
                "mode has no window to start"
                if ceil
                else "there is no room for even one position"
            )
            out.append(
                f"The kernel ({kernel}) is larger than the padded input {axis} {padded}: "
                f"{why}, PyTorch raises an error."
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
    bad = out_of_range(spec)
    if bad:
        return bad + _group_mismatch(spec)
    refused = _refusals(spec)
    if any("larger than the padded" in r for r in refused):
        return refused
    return refused + _ragged(spec) + _loose_padding(spec)


def refused_by_pytorch(spec: LayerSpec) -> bool:
    """True where nn.Conv2d / nn.MaxPool2d / nn.AvgPool2d would raise for these settings."""
    return bool(out_of_range(spec) or _refusals(spec))


def spec_output(spec: LayerSpec) -> tuple[int, int, int] | None:
    """H, W, C of the output as PyTorch computes it; None where PyTorch refuses."""
    if refused_by_pytorch(spec):
        return None
    h, w = (
        output_length(n, spec.kernel, spec.stride, spec.padding, spec.dilation, spec.ceil_mode)
        for n in (spec.height, spec.width)
    )
    return h, w, spec.out_channels


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
    if fixed.is_conv:
        fixed = replace(fixed, ceil_mode=False)  # nn.Conv2d has no ceil mode
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
    bad = out_of_range(spec)
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
