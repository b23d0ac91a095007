"""Predict-then-reveal questions generated from a live analysis: output volume and parameters."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from cnnviz.analysis import Analysis, Layer
from cnnviz.arithmetic import worked_conv_macs, worked_conv_params, worked_output_length
from cnnviz.notation import volume

PARAMS_CONVENTION = "weights + biases"  # the count a question asks for, said where it asks


@dataclass(frozen=True)
class Question:
    """One layer's question, its answers and the formulas worked with its numbers."""

    layer: str
    prompt: str
    volume: tuple[int, ...]  # H, W, C (or the number of features)
    params: int  # trainable parameters: weights + biases
    volume_work: str
    params_work: str
    macs_work: str
    weights: int | None = None  # the weights alone, where the layer also has biases


@dataclass(frozen=True)
class Verdict:
    """Whether an answer is right, and what to tell the student about it."""

    right: bool
    note: str = ""

    def __bool__(self) -> bool:
        return self.right


POOL_NAMES = {
    "MaxPool2d": "max pool",
    "AvgPool2d": "average pool",
    "Subsampling": "trainable subsampling",
}


def label(layer: Layer) -> str:
    """CONV1 for the lecture's names, 'features.0 (Conv2d)' for torchvision's."""
    if re.fullmatch(r"[a-z]+\d+", layer.name):
        return layer.name.upper()
    return f"{layer.name} ({layer.type})"


def _hwc(shape: tuple[int, ...]) -> tuple[int, ...]:
    return (shape[1], shape[2], shape[0]) if len(shape) == 3 else shape


def _fc_question(layer: Layer, name: str) -> Question | None:
    h = layer.hyper
    if "in_features" not in h:
        return None
    n_in, n_out = h["in_features"], h["out_features"]
    answer = _hwc(layer.output_shape)
    macs_work = f"{n_in:,}*{n_out:,} = {layer.macs:,} MACs"
    if layer.params and not layer.trainable_params:
        # LeNet's RBF output: 84x10 fixed centers, connections in the paper's words, not trained.
        prompt = (
            f"{name}: RBF output, {n_in:,} inputs -> {n_out:,} units with fixed (not trained) "
            "centers. Output size? Trainable parameters?"
        )
        params_work = (
            f"{n_in:,}*{n_out:,} = {layer.params:,} connections, fixed (not trained), so "
            "trainable parameters = 0"
        )
        return Question(
            layer.name, prompt, answer, 0, f"one value per unit: {n_out:,}", params_work, macs_work
        )
    prompt = (
        f"{name}: fully connected, {n_in:,} inputs -> {n_out:,} neurons. "
        f"Output size? Parameters ({PARAMS_CONVENTION})?"
    )
    bias = layer.params - n_in * n_out
    params_work = f"{n_in:,}*{n_out:,}" + (f" + {bias:,}" if bias else "")
    params_work += f" = {layer.params:,}"
    return Question(
        layer.name,
        prompt,
        answer,
        layer.params,
        f"one value per neuron: {n_out:,}",
        params_work,
        macs_work,
        n_in * n_out if bias else None,
    )


def _axes_work(layer: Layer) -> str:
    h, inp = layer.hyper, layer.input_shape
    k, s, p = h["kernel"], h["stride"], h.get("padding", 0)
    d, ceil = h.get("dilation", 1), bool(h.get("ceil_mode", False))
    axes = worked_output_length(inp[1], k, s, p, d, ceil)
    if inp[2] != inp[1]:
        axes = f"H: {axes}; W: {worked_output_length(inp[2], k, s, p, d, ceil)}"
    return axes


def question_for(layer: Layer) -> Question | None:
    """The question for a conv, pool or fully connected layer (None for other layers)."""
    h = layer.hyper
    if layer.kind not in ("conv", "pool", "fc") or layer.repeat:
        return None
    name = label(layer)
    if layer.kind == "fc":
        return _fc_question(layer, name)
    inp, out = layer.input_shape, layer.output_shape
    if len(inp) != 3 or "kernel" not in h:
        return None
    k, s, p = h["kernel"], h["stride"], h.get("padding", 0)
    c_in, c_out = inp[0], out[0]
    pad = f", pad {p}"
    weights = None
    if layer.kind == "conv":
        groups = h.get("groups", 1)
        grouped = f" in {groups} groups" if groups > 1 else ""
        what = f"applies {c_out} {k}x{k} filters at stride {s}{pad}{grouped}"
        depth = f"depth = number of filters = {c_out}"
        if "connections" in h:
            params_work = (
                f"{h['connections']} connected input maps, {c_out} biases: "
                f"{h['connections']}*{k}*{k} + {c_out} = {layer.params:,}"
            )
            macs_work = (
                "positions * connected maps * kernel: "
                f"{out[1]}*{out[2]} * {h['connections']}*{k}*{k} = {layer.macs:,} MACs"
            )
        else:
            weights = k * k * (c_in // groups) * c_out
            bias = layer.params > 0 and layer.params != weights
            params_work = worked_conv_params((k, k), c_in, c_out, groups, bias)
            macs_work = worked_conv_macs((out[1], out[2]), c_out, k, c_in, groups) + " MACs"
            weights = weights if bias else None
    else:
        kind = POOL_NAMES.get(layer.type, layer.type)
        ceil = ", ceil mode" if h.get("ceil_mode") else ""
        what = f"applies a {k}x{k} {kind} at stride {s}{pad}{ceil}"
        depth = f"pooling keeps the depth: {c_out}"
        params_work = (
            f"one coefficient + one bias per map: 2*{c_out} = {layer.params}"
            if layer.params
            else "pooling has no parameters: 0"
        )
        macs_work = "no weight multiplications" if not layer.macs else f"{layer.macs:,} MACs"
        if layer.macs and layer.params:
            macs_work = (
                f"{out[1]}*{out[2]}*{c_out} = {layer.macs:,} MACs (one coefficient per output)"
                if layer.macs == out[0] * out[1] * out[2]
                else macs_work
            )
    prompt = (
        f"{name} {what} to a {volume(inp)} input. Output volume (H x W x C)? "
        f"Parameters ({PARAMS_CONVENTION})?"
    )
    return Question(
        layer.name,
        prompt,
        _hwc(out),
        layer.params,
        f"{_axes_work(layer)}; {depth} -> {volume(out)}",
        params_work,
        macs_work,
        weights,
    )


def questions(analysis: Analysis) -> list[Question]:
    """One question per conv, pool and fully connected layer, in forward order."""
    return [q for layer in analysis.leaves if (q := question_for(layer)) is not None]


def parse_volume(text: str) -> tuple[int, ...] | None:
    """'55x55x96', '55 x 55 x 96', '55,55,96' or '4096' -> numbers; None if unreadable."""
    parts = re.split(r"\s*[x×*,]\s*|\s+", text.strip().lower())
    try:
        return tuple(int(p.replace("_", "")) for p in parts if p)
    except ValueError:
        return None


def parse_count(text: str) -> tuple[float, bool] | None:
    """'34,944' -> (34944, exact); '35K' or '62.4M' -> (value, approximate)."""
    m = re.fullmatch(r"\s*([\d.,_ ]+)\s*([kKmMgG]?)\s*", text)
    if not m:
        return None
    digits = m.group(1).replace(",", "").replace("_", "").replace(" ", "")
    try:
        value = float(digits)
    except ValueError:
        return None
    scale = {"": 1, "k": 1e3, "m": 1e6, "g": 1e9}[m.group(2).lower()]
    return value * scale, bool(m.group(2)) or "." in digits


def check_volume(q: Question, text: str) -> Verdict:
    """Right when the numbers match H x W x C; C x H x W is named, not accepted."""
    got = parse_volume(text)
    if got is None:
        return Verdict(False)
    if got == q.volume:
        return Verdict(True)
    if len(got) == 3 and len(q.volume) == 3 and got == (q.volume[2], *q.volume[:2]):
        return Verdict(False, "that is C x H x W; the lecture writes H x W x C")
    return Verdict(False)


def _matches(value: float, approximate: bool, count: int) -> bool:
    return math.isclose(value, count, rel_tol=0.01) if approximate else value == count


def check_params(q: Question, text: str) -> Verdict:
    """Right when exact, or within 1% when written with K/M/G or decimals ('35K'); the weights
    alone are accepted too, with a note saying what they leave out."""
    got = parse_count(text)
    if got is None:
        return Verdict(False)
    value, approximate = got
    if _matches(value, approximate, q.params):
        return Verdict(True)
    if q.weights is not None and _matches(value, approximate, q.weights):
        biases = q.params - q.weights
        return Verdict(
            True,
            f"{text.strip()} counts the weights only; with the {biases:,} biases it is "
            f"{q.params:,}",
        )
    return Verdict(False)
