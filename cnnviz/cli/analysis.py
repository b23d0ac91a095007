"""Command line, the architectures: `models`, `summary` and `rf` (`receptive-field`), the
analysis and the receptive fields of a registered model (JSON keys: a contract)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from cnnviz import registry
from cnnviz.analysis import MAC_CONVENTION, Analysis, analyze
from cnnviz.cli.common import UsageError
from cnnviz.notation import volume
from cnnviz.receptive_field import ReceptiveField, field_calls_of, layer_field
from cnnviz.receptive_field.tracer import UnsupportedLayer


def parse_input(text: str | None) -> tuple[int, int, int] | None:
    """'3,224,224' -> (3, 224, 224)."""
    if text is None:
        return None
    try:
        size = tuple(int(v) for v in text.replace("x", ",").split(","))
    except ValueError:
        raise UsageError(f"--input must be C,H,W (three integers), not {text!r}") from None
    if len(size) != 3 or min(size) < 1:
        raise UsageError(f"--input must be C,H,W (three positive integers), not {text!r}")
    return size  # type: ignore[return-value]


def parse_option(text: str) -> tuple[str, Any]:
    """'c3_table=true' -> ('c3_table', True); numbers and comma lists are parsed."""
    if "=" not in text:
        raise UsageError(f"--option must be KEY=VALUE, not {text!r}")
    key, raw = text.split("=", 1)
    low = raw.lower()
    if low in ("true", "false"):
        return key, low == "true"
    try:
        values = [float(v) if "." in v else int(v) for v in raw.split(",")]
    except ValueError:
        return key, raw
    return key, values[0] if len(values) == 1 else tuple(values)


def _summary_table(a: Analysis) -> str:
    lines = [f"{a.model}  input {volume(a.input)}", ""]
    lines.append(f"{'layer':<28} {'type':<18} {'output':>14} {'params':>13} {'MACs':>16}")
    for layer in a.leaves:
        lines.append(
            f"{layer.name:<28} {layer.type:<18} {layer.volume():>14} "
            f"{layer.params:>13,} {layer.macs:>16,}"
        )
    lines += [
        "",
        f"total params      {a.total_params:,}",
        f"trainable params  {a.trainable_params:,}",
        f"total MACs        {a.total_macs:,}",
        f"({MAC_CONVENTION})",
    ]
    return "\n".join(lines)


def cmd_models(args: argparse.Namespace) -> int:
    rows = []
    for name in registry.names():
        arch = registry.get(name)
        rows.append(
            {
                "name": name,
                "family": arch.family,
                "title": arch.title,
                "source": arch.source,
                "default_input": list(arch.default_input),
                "options": {k: _json(v) for k, v in arch.options.items()},
                "description": arch.description,
            }
        )
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for r in rows:
            size = "x".join(str(v) for v in r["default_input"])
            print(f"{r['name']:<25} {r['family']:<10} {size:<11} {r['title']}")
    return 0


def cmd_summary(args: argparse.Namespace) -> int:
    options = dict(parse_option(o) for o in args.option)
    try:
        a = analyze(args.name, parse_input(args.input), **options)
    except TypeError as err:  # unknown builder option
        raise UsageError(str(err)) from None
    if args.json:
        print(json.dumps(_with_fields(a.to_json(), args.name, a.input, options), indent=2))
    else:
        print(_summary_table(a))
    return 0


def _with_fields(
    doc: dict[str, Any], name: str, size: tuple[int, int, int], options: dict[str, Any]
) -> dict[str, Any]:
    """Add "rf" and "jump" (H axis) to every row of the summary document."""
    try:
        calls = field_calls_of(name, size, **options)
    except UnsupportedLayer as err:  # the summary itself stays valid: say why rf is null
        print(f"note: no receptive fields: {err}", file=sys.stderr)
        calls = ()
    per_name: dict[str, list[ReceptiveField]] = {}
    for call in calls:
        per_name.setdefault(call.name, []).append(call)
    for key in ("layers", "blocks"):
        seen: dict[str, int] = {}
        for row in doc[key]:
            # A module called twice (ResNet's ReLU) has one row per call, in call order.
            k = seen.get(row["name"], 0)
            seen[row["name"]] = k + 1
            fields = per_name.get(row["name"], [])
            field = fields[min(k, len(fields) - 1)] if fields else None
            row["rf"] = field.rf[0] if field else None
            row["jump"] = field.jump[0] if field else None
    return doc


def cmd_rf(args: argparse.Namespace) -> int:
    options = dict(parse_option(o) for o in args.option)
    size = parse_input(args.input) or registry.get(args.name).default_input
    try:
        field = layer_field(args.name, args.layer, size, **options)
    except TypeError as err:  # unknown builder option
        raise UsageError(str(err)) from None
    if args.json:
        doc = {
            "rf": field.rf[0],
            "jump": field.jump[0],
            "start": field.start[0],
            "center": field.center[0],
            "rf_hw": list(field.rf),
            "jump_hw": list(field.jump),
            "start_hw": list(field.start),
            "center_hw": list(field.center),
            "model": args.name,
            "layer": field.name,
            "type": field.type,
            "input": list(size),
            "output_shape": list(field.output_shape),
            "global": field.is_global,
            "exact": field.exact,
            "uniform": field.uniform,
            "rf_range_hw": [list(r) for r in field.rf_range],
        }
        print(json.dumps(doc, indent=2))
    else:
        print(_rf_line(args.name, field, size))
    return 0


def _rf_line(name: str, field: ReceptiveField, size: tuple[int, int, int]) -> str:
    top, left, bottom, right = field.region(0, 0)
    where = f"{name} {field.name} ({field.type}) on {volume(size)}"
    if field.is_global:
        return f"{where}: global, every unit sees the whole {field.rf[0]}x{field.rf[1]} input"
    approx = " (approximate: adaptive pool)" if not field.exact else ""
    if not field.uniform:  # an uneven adaptive pool: its units see windows of unequal size
        (h_lo, h_hi), (w_lo, w_hi) = field.rf_range
        approx += f"; units differ: {h_lo}..{h_hi} x {w_lo}..{w_hi} px"
    widest = "" if field.uniform else "up to "
    return (
        f"{where}: receptive field {widest}{field.rf[0]}x{field.rf[1]}, jump {field.jump[0]}"
        f"{'' if field.jump[0] == field.jump[1] else f'x{field.jump[1]}'}; unit (0, 0) sees "
        f"rows {top}..{bottom}, cols {left}..{right}{approx}"
    )


def _json(v: Any) -> Any:
    return list(v) if isinstance(v, tuple) else v


def add_commands(sub: Any) -> None:
    """This module's commands on the CLI's parser."""
    p = sub.add_parser("models", help="list the registered architectures")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_models)

    p = sub.add_parser("summary", help="per-layer output volume, parameters and MACs")
    p.add_argument("name")
    p.add_argument("--input", help="C,H,W (default: the model's own input size)")
    p.add_argument("--option", action="append", default=[], help="builder option KEY=VALUE")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_summary)

    p = sub.add_parser(
        "rf", aliases=["receptive-field"], help="receptive field, jump and start of one layer"
    )
    p.add_argument("name")
    p.add_argument("--layer", required=True, help="dotted path as in named_modules()")
    p.add_argument("--input", help="C,H,W (default: the model's own input size)")
    p.add_argument("--option", action="append", default=[], help="builder option KEY=VALUE")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_rf)
