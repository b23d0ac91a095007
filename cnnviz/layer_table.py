"""A whole model's layer table, and one of its layers explained like the calculator does."""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING

from cnnviz.arithmetic import worked_conv_params
from cnnviz.layer_calculator import layer_arithmetic
from cnnviz.layer_fit import LayerSpec
from cnnviz.notation import volume as _volume

if TYPE_CHECKING:  # analysis loads torchinfo; the types are only for annotations
    from cnnviz.analysis import Analysis, Layer

TABLE_COLUMNS = ("layer", "type", "kind", "input", "output", "params", "macs")


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
    """(quantity, worked formula) pairs for one layer of an analyzed model."""
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
