"""Predict-then-reveal questions generated from a live analysis: output volume and parameters."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from cnnviz.analysis import Analysis, Layer
from cnnviz.arithmetic import worked_conv_params, worked_output_length
from cnnviz.notation import volume


@dataclass(frozen=True)
class Question:
    """One layer's question, its answers and the formulas worked with its numbers."""

    layer: str
    prompt: str
    volume: tuple[int, ...]  # H, W, C (or the number of features)
    params: int
    volume_work: str
    params_work: str
    macs_work: str


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


def question_for(layer: Layer) -> Question | None:
    """The question for a conv, pool or fully connected layer (None for other layers)."""
    h = layer.hyper
    if layer.kind not in ("conv", "pool", "fc") or layer.repeat:
        return None
    inp, out = layer.input_shape, layer.output_shape
    name = label(layer)
    answer = _hwc(out)
    if layer.kind == "fc":
        if "in_features" not in h:
            return None
        n_in, n_out = h["in_features"], h["out_features"]
        prompt = (
            f"{name}: fully connected, {n_in:,} inputs -> {n_out:,} neurons. "
            "Output size? Parameters?"
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
            f"{n_in:,}*{n_out:,} = {layer.macs:,} MACs",
        )
    if len(inp) != 3 or "kernel" not in h:
        return None
    k, s, p = h["kernel"], h["stride"], h.get("padding", 0)
    d = h.get("dilation", 1)
    c_in, c_out = inp[0], out[0]
    axes = worked_output_length(inp[1], k, s, p, d)
    if inp[2] != inp[1]:
        axes = f"H: {axes}; W: {worked_output_length(inp[2], k, s, p, d)}"
    pad = f", pad {p}" if p else ", pad 0"
    if layer.kind == "conv":
        groups = h.get("groups", 1)
        grouped = f" in {groups} groups" if groups > 1 else ""
        what = f"applies {c_out} {k}x{k} filters at stride {s}{pad}{grouped}"
        depth = f"depth = number of filters = {c_out}"
        if "connections" in h:
            params_work = (
                f"{h['connections']} connected input maps x {k}*{k} + {c_out} biases "
                f"= {layer.params:,}"
            )
        else:
            params_work = worked_conv_params(
                (k, k),
                c_in,
                c_out,
                groups,
                layer.params > 0 and (layer.params != k * k * (c_in // groups) * c_out),
            )
        macs_work = (
            f"{out[1]}*{out[2]}*{c_out} outputs x {k}*{k}*{c_in // h.get('groups', 1)} "
            f"= {layer.macs:,} MACs"
            if "connections" not in h
            else f"{out[1]}*{out[2]} positions x {h['connections']}*{k}*{k} = {layer.macs:,} MACs"
        )
    else:
        kind = POOL_NAMES.get(layer.type, layer.type)
        what = f"applies a {k}x{k} {kind} at stride {s}{pad}"
        depth = f"pooling keeps the depth: {c_out}"
        params_work = (
            f"one coefficient + one bias per map: 2*{c_out} = {layer.params}"
            if layer.params
            else "0: pooling has no parameters"
        )
        macs_work = "no weight multiplications" if not layer.macs else f"{layer.macs:,} MACs"
    prompt = f"{name} {what} to a {volume(inp)} input. Output volume? Parameters?"
    return Question(
        layer.name,
        prompt,
        answer,
        layer.params,
        f"{axes}; {depth} -> {volume(out)}",
        params_work,
        macs_work,
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


def check_volume(q: Question, text: str) -> bool:
    """Right when the numbers match H x W x C (C x H x W is accepted too)."""
    got = parse_volume(text)
    if got is None:
        return False
    if got == q.volume:
        return True
    return len(got) == 3 and len(q.volume) == 3 and got == (q.volume[2], *q.volume[:2])


def check_params(q: Question, text: str) -> bool:
    """Right when exact, or within 1% when written with K/M/G or decimals ('35K')."""
    got = parse_count(text)
    if got is None:
        return False
    value, approximate = got
    if not approximate:
        return value == q.params
    return math.isclose(value, q.params, rel_tol=0.01)
