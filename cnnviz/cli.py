"""Command line: `python -m cnnviz models|summary|rf|check-dataset|finetune|predict|fetch-weights|
experiment|attribute|visualize|queue ...` (JSON keys: a contract). `receptive-field` is `rf` spelled
out, for a student who does not guess the short name."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from cnnviz import registry
from cnnviz.analysis import MAC_CONVENTION, Analysis, analyze
from cnnviz.cli_common import UsageError
from cnnviz.cli_training import add_training_commands
from cnnviz.errors import CnnvizError
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


# check-dataset decodes every image to see that it decodes; this small side keeps it cheap.
CHECK_SIZE = 32


def _groups(count: int) -> str:
    return f"{count:,} group{'' if count == 1 else 's'}"


def cmd_check_dataset(args: argparse.Namespace) -> int:
    from pathlib import Path

    from cnnviz import data  # torchvision and PIL plugins: only for this command

    path = Path(args.path)
    if args.path in data.BUILTIN and not path.exists():
        dataset = data.BUILTIN[args.path](CHECK_SIZE)
    else:
        if not path.exists():
            raise UsageError(f"there is no file or folder {args.path!r}")
        try:
            dataset = data.load_dataset(path, size=CHECK_SIZE)
        except OSError as err:  # unreadable file or folder (permissions, I/O): one line too
            raise UsageError(f"cannot read {args.path!r}: {err.strerror or err}") from None
    if args.json:
        print(json.dumps(dataset.to_json(), indent=2))
        return 0
    counts = dataset.counts()
    print(f"{len(dataset):,} images in {len(counts)} classes")
    for name, count in counts.items():
        print(f"  {name:<24} {count:>6,}")
    if dataset.skipped:
        print(f"skipped {len(dataset.skipped):,}:")
        for item in dataset.skipped:
            print(f"  {item.path}: {item.reason}")
    if dataset.duplicates:
        copies = sum(len(g) for g in dataset.duplicates)
        print(
            f"exact duplicates (same pixels): {_groups(len(dataset.duplicates))}, {copies:,} "
            "images; each group stays on one side of the train/validation split:"
        )
        for group in dataset.duplicates:
            print("  " + " = ".join(dataset.name(i) for i in group))
    across = dataset.across_classes()
    if across:
        print(
            f"the same image in two classes (a labeling slip?): {_groups(len(across))}; they "
            "train but are never validated. Keep each image in its right class folder only:"
        )
        for group in across:
            print("  " + " = ".join(dataset.name(i) for i in group))
    return 0


ATTRIBUTION_METHODS = (
    "saliency",
    "integrated_gradients",
    "smoothgrad",
    "gradcam",
    "occlusion",
    "guided_backprop",
)


def cmd_attribute(args: argparse.Namespace) -> int:
    from pathlib import Path

    import numpy as np

    from cnnviz import images
    from cnnviz.explain import attribution, models  # torch and captum: only for this command

    if args.weights and args.trained:
        raise UsageError("give --weights or --trained, not both")
    path = Path(args.image)
    if not path.is_file():
        raise UsageError(f"there is no image file {args.image!r}")
    if args.trained:
        model = models.load_trained_file(args.trained)
    elif args.weights:
        model = models.with_weights(args.model, args.weights, args.image_size)
    else:
        model = models.by_name(args.model, image_size=args.image_size)
    x = model.preprocess(images.decode_upload(path.read_bytes()))
    params = attribution.Params(
        steps=args.steps,
        baseline=args.baseline,
        samples=args.samples,
        noise=args.noise,
        window=args.window,
        stride=args.stride,
        layer=args.layer,
        seed=args.seed,
    )
    result = attribution.attribute(model, x, args.method, args.target, params)
    np.save(args.out, result.map)
    if args.save_input:
        np.save(args.save_input, x.numpy())
    top = models.predict(model, x)
    if args.json:
        doc = {
            "model": args.model if not args.trained else model.key.split(":")[1],
            "method": args.method,
            "target": result.target,
            "target_class": model.classes[result.target],
            "layer": result.layer,
            "input_shape": list(x.shape),
            "map_shape": list(result.map.shape),
            "prediction": [{"class": name, "probability": p} for _, name, p in top],
            "delta": result.delta,
            "seconds": result.seconds,
        }
        print(json.dumps(doc, indent=2))
    else:
        delta = f", convergence delta {result.delta:.2g}" if result.delta is not None else ""
        print(
            f"{model.title}: {attribution.METHODS[args.method]} of class "
            f"{model.classes[result.target]!r} ({result.target}), map "
            f"{'x'.join(map(str, result.map.shape))} in {result.seconds:.3f} s{delta}; "
            f"predicted {top[0][1]!r} ({top[0][2]:.1%}); written to {args.out}"
        )
    return 0


def cmd_visualize(args: argparse.Namespace) -> int:
    from PIL import Image

    from cnnviz.explain import feature_viz, models  # torch: only for this command
    from cnnviz.train.progress import TqdmReporter  # the same bars as finetune's

    if args.trained:
        model = models.load_trained_file(args.trained)
    elif args.weights:
        model = models.with_weights(args.model, args.weights, args.side)
    else:
        model = models.by_name(args.model, image_size=args.side)
    from cnnviz.explain import limits

    limits.FEATURE_VIZ_TOP.check(args.top)  # before minutes of optimization, not after
    settings = feature_viz.Settings(steps=args.steps, side=args.side, seed=args.seed)
    report = TqdmReporter("cpu")
    try:
        viz = feature_viz.visualize(model, args.layer, [args.channel], settings, report=report)
    finally:
        report.close()
    pictures, names = feature_viz.reference_images(model)
    top = feature_viz.top_images(model, args.layer, [args.channel], pictures, args.top)
    Image.fromarray(viz.images[0]).save(args.out, format="PNG")
    activation = viz.activations[0]
    if args.json:
        doc = {
            "model": args.model if not args.trained else model.key.split(":")[1],
            "layer": args.layer,
            "channel": args.channel,
            "class": model.classes[args.channel] if args.layer == feature_viz.LOGITS else None,
            "seed": viz.settings.seed,
            "steps": viz.settings.steps,
            "side": viz.settings.side,
            "activation": activation,
            "top_images": [
                {"image": names[i], "activation": a}
                for i, a in zip(top.indices[0], top.activations[0], strict=True)
            ],
            "max_validation_activation": top.maximum[0],
            "seconds": viz.seconds,
            "out": args.out,
        }
        print(json.dumps(doc, indent=2))
    else:
        what = "class" if args.layer == feature_viz.LOGITS else f"{args.layer} channel"
        best = f"{names[top.indices[0][0]]} ({top.activations[0][0]:.3f})"
        print(
            f"{model.title}: {what} {args.channel} reaches {activation:.3f} on the optimized "
            f"image ({viz.settings.steps} steps, seed {viz.settings.seed}, "
            f"{viz.seconds:.1f} s); the strongest of {len(names)} reference images: {best}; "
            f"written to {args.out}"
        )
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad argument is one line on stderr (exit 2), like every other error."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {self.prog}: {message} (see --help)\n")


def cmd_queue(args: argparse.Namespace) -> int:
    """The class's job queue on Ray: its slots and its last jobs (an operator's view)."""
    import datetime
    import os

    from cnnviz.jobs import ray_backend

    if not 1 <= args.last <= ray_backend.HISTORY:
        raise UsageError(f"--last must be between 1 and {ray_backend.HISTORY}, not {args.last}")
    address = args.address or os.environ.get("CNNVIZ_JOBS", "ray")
    if address == "threads":
        address = "ray"
    try:
        log = ray_backend.queue_log(address)
    except ImportError:
        raise UsageError("Ray is not installed: pip install -r requirements-ray.txt") from None
    if args.json:
        print(json.dumps(log))
        return 0
    print("slots: " + ", ".join(f"{k} {v}" for k, v in log["slots"].items()))

    def clock(t: float | None) -> str:
        return datetime.datetime.fromtimestamp(t).strftime("%H:%M:%S") if t else "-"

    print(f"{'job':8}{'function':24}{'queue':10}{'state':9}{'submitted':>10}{'waited':>8}"
          f"{'ran':>8}")  # fmt: skip
    for j in log["jobs"][-args.last :]:
        waited = (j["started"] or 0) - j["submitted"] if j["started"] else None
        ran = j["ended"] - j["started"] if j["ended"] and j["started"] else None
        print(
            f"{j['job']:8}{j['function'][:23]:24}{j['queue']:10}{j['state']:9}"
            f"{clock(j['submitted']):>10}{_seconds(waited):>8}{_seconds(ran):>8}"
        )
    return 0


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}s"


def cmd_experiment(args: argparse.Namespace) -> int:
    from cnnviz.experiments import EXPERIMENTS, summary_lines  # torch training: only here

    # Checked here, not by argparse, so a bad value is one line (argparse adds its usage).
    if args.name not in EXPERIMENTS:
        raise UsageError(f"unknown experiment {args.name!r}; experiments: {', '.join(EXPERIMENTS)}")
    if args.quick and args.size not in (None, "quick"):
        raise UsageError(f"--quick and --size {args.size} contradict each other")
    try:
        seed = int(args.seed)
    except ValueError:
        raise UsageError(f"--seed must be a whole number, not {args.seed!r}") from None
    size = "quick" if args.quick else args.size or "full"
    experiment = EXPERIMENTS[args.name]
    config = experiment.configure(size, seed)
    from cnnviz.train.progress import TqdmReporter  # the same bars as finetune's

    report = TqdmReporter("cpu")
    try:
        doc = experiment.run(config, report=report)
    finally:
        report.close()
    if args.json:
        print(json.dumps(doc))
    else:
        print("\n".join(summary_lines(args.name, doc)))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m cnnviz", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

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

    p = sub.add_parser(
        "check-dataset", help="validate a dataset (.zip or folder, one folder per class)"
    )
    p.add_argument("path", help="a .zip, a folder, or a built-in name (digits, lfw)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_check_dataset)

    p = sub.add_parser("attribute", help="which pixels drove a prediction (captum), as .npy")
    p.add_argument(
        "--model",
        default="lenet5_digits",
        help="lenet5_digits, a torchvision name of the registry (resnet18, vgg16, ...) or a "
        "transfer-learning backbone (mobilenet_v3_small, efficientnet_b0)",
    )
    source = p.add_mutually_exclusive_group()
    source.add_argument(
        "--weights", metavar="FILE", help="a state dict for --model (instead of ImageNet's)"
    )
    source.add_argument("--trained", help="a fine-tuned model file (transfer learning page)")
    p.add_argument("--image", required=True, help="a PNG or JPEG")
    p.add_argument("--method", required=True, choices=ATTRIBUTION_METHODS)
    p.add_argument("--target", help="class index or name (default: the predicted class)")
    p.add_argument("--layer", help="Grad-CAM's layer, dotted path (default: the last spatial one)")
    p.add_argument("--image-size", type=int, help="the side the image is cropped to")
    p.add_argument("--steps", type=int, default=32, help="Integrated Gradients steps")
    p.add_argument("--baseline", default="zeros", choices=("zeros", "black"))
    p.add_argument("--samples", type=int, default=16, help="SmoothGrad samples")
    p.add_argument("--noise", type=int, default=15, help="SmoothGrad noise, %% of input range")
    p.add_argument("--window", type=int, help="Occlusion window side (default: side / 8)")
    p.add_argument("--stride", type=int, help="Occlusion stride (default: window / 2)")
    p.add_argument(
        "--seed", type=int, default=0, help="SmoothGrad's noise: the same seed, the same map"
    )
    p.add_argument("--out", required=True, help="where the map goes (.npy)")
    p.add_argument("--save-input", help="where the preprocessed input goes (.npy)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_attribute)
    p = sub.add_parser(
        "visualize", help="the image a channel (or class) responds to most, as PNG (Olah 2017)"
    )
    p.add_argument("--model", default="lenet5_digits", help="as for attribute")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--weights", metavar="FILE", help="a state dict for --model")
    source.add_argument("--trained", help="a fine-tuned model file (transfer learning page)")
    p.add_argument("--layer", required=True, help="dotted path as in named_modules(), or logits")
    p.add_argument("--channel", type=int, required=True, help="channel (or class) index")
    p.add_argument("--out", required=True, help="where the optimized image goes (.png)")
    p.add_argument("--seed", type=int, default=0, help="same seed, same image")
    p.add_argument("--steps", type=int, default=256, help="optimization steps")
    p.add_argument("--side", type=int, help="image side in pixels (default: the model's)")
    p.add_argument("--top", type=int, default=8, help="reference images listed")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_visualize)
    add_training_commands(sub)
    p = sub.add_parser(
        "queue", help="the class's job queue on Ray (CNNVIZ_JOBS=ray): slots and last jobs"
    )
    p.add_argument("--address", help="ray (the local instance) or ray://HOST:PORT")
    p.add_argument("--last", type=int, default=20, help="how many of the last jobs (default 20)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_queue)

    p = sub.add_parser("experiment", help="run one of the lecture's live training experiments")
    p.add_argument("name", help="rotation, noise, augment or degradation")
    p.add_argument(
        "--quick",
        action="store_true",
        help="the class setting (under a minute each on an idle 2-core machine)",
    )
    p.add_argument("--size", help="tiny, quick or full (default: full); tiny is a smoke run")
    p.add_argument("--seed", default="0", help="same seed, same numbers (0 to 9,999)")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.set_defaults(run=cmd_experiment)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except CnnvizError as err:
        print(f"error: {err.one_line()}", file=sys.stderr)
        return 2
    except (UsageError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
