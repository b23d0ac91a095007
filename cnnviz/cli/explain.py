"""Command line, Explain: `attribute` (which pixels drove a prediction, captum) and
`visualize` (the image a channel responds to most); JSON keys: a contract."""

from __future__ import annotations

import argparse
import json
from typing import Any

from cnnviz.cli.common import UsageError

ATTRIBUTION_METHODS = (
    "saliency",
    "integrated_gradients",
    "smoothgrad",
    "gradcam",
    "occlusion",
    "guided_backprop",
)


def _model(args: argparse.Namespace, image_size: int | None) -> Any:
    """The model --trained, --weights or --model names (cnnviz.explain.models.Explained)."""
    from cnnviz.explain import models  # torch: only for the commands that explain

    if args.trained:
        return models.load_trained_file(args.trained)
    if args.weights:
        return models.with_weights(args.model, args.weights, image_size)
    return models.by_name(args.model, image_size=image_size)


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
    model = _model(args, args.image_size)
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

    from cnnviz.explain import feature_viz, reference_images  # torch: only for this command
    from cnnviz.train.progress import TqdmReporter  # the same bars as finetune's

    model = _model(args, args.side)
    from cnnviz.explain import limits

    limits.FEATURE_VIZ_TOP.check(args.top)  # before minutes of optimization, not after
    settings = feature_viz.Settings(steps=args.steps, side=args.side, seed=args.seed)
    report = TqdmReporter("cpu")
    try:
        viz = feature_viz.visualize(model, args.layer, [args.channel], settings, report=report)
    finally:
        report.close()
    pictures, names = reference_images.reference_images(model)
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


def add_commands(sub: Any) -> None:
    """This module's commands on the CLI's parser."""
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
