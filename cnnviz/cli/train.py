"""Command line, transfer learning: `finetune`, `predict` and `fetch-weights` (their JSON keys
are a contract; see cnnviz.cli for the rest)."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
from typing import Any

from cnnviz.cli.common import UsageError


def _load_training_data(text: str, size: int) -> Any:
    """A built-in dataset by name (when no such file exists), else a zip or a folder."""
    from pathlib import Path

    from cnnviz import data

    path = Path(text)
    if text in data.BUILTIN and not path.exists():
        return data.BUILTIN[text](size)
    if not path.exists():
        raise UsageError(
            f"there is no file or folder {text!r} (built-in: {', '.join(data.BUILTIN)})"
        )
    try:
        return data.load_dataset(path, size=size)
    except OSError as err:
        raise UsageError(f"cannot read {text!r}: {err.strerror or err}") from None


def _finetune_table(doc: dict[str, Any]) -> str:
    lines = [f"{'epoch':>5} {'train loss':>10} {'train acc':>9} {'val loss':>9} {'val acc':>8}"]
    for h in doc["history"]:
        lines.append(
            f"{h['epoch']:>5} {h['train_loss']:>10.4f} {h['train_accuracy']:>9.3f} "
            f"{h['val_loss']:>9.4f} {h['val_accuracy']:>8.3f}"
        )
    lines.append("")
    for name, acc in doc["per_class_accuracy"].items():
        lines.append(f"  {name:<24} {'-' if acc is None else f'{acc:.3f}':>6}")
    stopped = " (stopped early)" if doc.get("stopped") else ""
    lines.append(
        f"{doc['backbone']} {doc['strategy']} on {doc['device_name']} ({doc['device']}): "
        f"validation accuracy {doc['val_accuracy']}, {doc['seconds']:.1f} s{stopped}"
    )
    return "\n".join(lines)


def cmd_finetune(args: argparse.Namespace) -> int:
    from cnnviz.jobs import devices
    from cnnviz.train import FinetuneConfig, finetune, save_trained
    from cnnviz.train import config as defaults
    from cnnviz.train.backbones import WEIGHTS, check_weights_file, default_weights, spec
    from cnnviz.train.progress import TqdmReporter

    # Unset options take the page's defaults, which depend on the backbone and the device.
    backbone = spec(args.backbone)  # UnknownModel: exit 2; then the spec, not the name
    image_size = args.image_size
    if image_size is None:
        image_size = defaults.default_image_size(devices.resolve(args.device).is_cuda)
    last_blocks = args.last_blocks
    if last_blocks is None:
        last_blocks = defaults.default_last_blocks(backbone)
    config = FinetuneConfig(
        backbone=args.backbone,
        weights=args.weights or default_weights(backbone),
        strategy=args.strategy,
        last_blocks=last_blocks,
        epochs=args.epochs,
        image_size=image_size,
        batch_size=args.batch_size,
        lr=args.lr,
        val_fraction=args.val_fraction,
        seed=args.seed,
        device=args.device,
    )
    if config.weights not in WEIGHTS:  # a file: refused before the dataset is loaded
        check_weights_file(config.backbone_spec, config.weights)
    dataset = _load_training_data(args.path, config.image_size)
    reporter = TqdmReporter(devices.resolve(config.device).key)
    reporter.stop_on_interrupt()
    try:
        result = finetune(dataset, config, report=reporter)
    finally:
        reporter.close()
    if args.out:
        save_trained(result, args.out)
    doc = result.to_json()
    print(json.dumps(doc) if args.json else _finetune_table(doc))
    return 0


def _read_image(path: str) -> Any:
    from pathlib import Path

    from cnnviz.images import decode_upload

    try:
        raw = Path(path).read_bytes()
    except OSError as err:
        raise UsageError(f"cannot read {path!r}: {err.strerror or err}") from None
    return decode_upload(raw)


def cmd_predict(args: argparse.Namespace) -> int:
    import torch

    from cnnviz.train import load_trained, predict

    if args.top < 1:
        raise UsageError(f"--top must be at least 1, not {args.top}")
    trained = load_trained(args.model)
    images = torch.stack([trained.image_tensor(_read_image(p)) for p in args.images])
    tops = predict(trained, images, top=args.top)
    doc = [
        {"image": path, "top": [{"class": c, "probability": p} for c, p in top]}
        for path, top in zip(args.images, tops, strict=True)
    ]
    if args.json:
        print(json.dumps(doc, ensure_ascii=False))
    else:
        for row in doc:
            best = ", ".join(f"{t['class']} {t['probability']:.1%}" for t in row["top"])
            print(f"{row['image']}: {best}")
    return 0


class _without_download_banner(contextlib.AbstractContextManager[None]):
    """stdout without torch.hub's 'Downloading: URL to PATH' line (its progress bar, on stderr,
    stays): a failed download says so in one line, a good one where the file went."""

    class _Filter(io.TextIOBase):
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def write(self, text: str) -> int:
            if not text.startswith('Downloading: "'):
                self.inner.write(text)
            return len(text)

        def flush(self) -> None:
            self.inner.flush()

    def __enter__(self) -> None:
        self._saved = sys.stdout
        sys.stdout = self._Filter(sys.stdout)  # type: ignore[assignment]

    def __exit__(self, *exc: object) -> None:
        sys.stdout = self._saved


def _fetch_at_setup(timeout: float) -> int:
    """Set-up's one try at the default backbone's ImageNet weights: hash checked, `timeout`
    seconds per network wait, one line saying what happened, never a failure (offline the
    app starts from the synthetic backbone)."""
    import socket

    from cnnviz import synthetic, weights

    name = synthetic.BACKBONE
    path = weights.weights_file(name)
    if path.is_file():
        print(f"ImageNet weights of {name}: already present ({path.name}).")
        return 0
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout)  # urllib waits forever on a silent network otherwise
    try:
        with _without_download_banner():
            weights.default_weights(name).get_state_dict(progress=False, check_hash=True)
    except Exception as err:  # offline, a proxy, a bad hash: set-up goes on
        reason = getattr(err, "reason", None) or err
        print(
            f"ImageNet weights of {name}: not downloaded ({reason}); the app starts from the "
            "synthetic backbone shipped in assets/."
        )
        return 0
    finally:
        socket.setdefaulttimeout(previous)
    print(f"ImageNet weights of {name}: downloaded to {path} (hash checked).")
    return 0


def cmd_fetch_weights(args: argparse.Namespace) -> int:
    from cnnviz import weights
    from cnnviz.train import BACKBONES

    if args.setup:
        return _fetch_at_setup(args.timeout)
    names = weights.app_weights(BACKBONES) if args.all else args.names
    if not names:
        raise UsageError("name the models whose weights to download, or give --all")
    for name in names:
        path = weights.weights_file(name)  # UnknownModel, NoPretrainedWeights: exit 2
        if path.is_file():
            print(f"{name}: already present at {path}")
            continue
        url = weights.weights_url(name)
        try:  # torchvision's own download: into torch.hub.get_dir()/checkpoints, hash checked
            with _without_download_banner():
                weights.default_weights(name).get_state_dict(progress=True, check_hash=True)
        except (OSError, RuntimeError) as err:  # URLError is an OSError; a bad hash a RuntimeError
            reason = getattr(err, "reason", None) or err
            raise UsageError(
                f"cannot download {url} ({reason}): on a machine with internet run this "
                f"command, or place the file at {path}"
            ) from None
        print(f"{name}: downloaded to {path}")
    return 0


def add_commands(sub: Any) -> None:
    from cnnviz.train import BACKBONES, STRATEGIES, limits
    from cnnviz.train import config as defaults

    p = sub.add_parser(
        "finetune",
        help="transfer learning: train a new head (or more) of a torchvision backbone",
        description="Progress goes to stderr; with --json, stdout is one JSON object.",
    )
    p.add_argument(
        "path",
        help="a .zip or a folder (one folder per class), or a built-in name: digits, lfw, textures",
    )
    p.add_argument("--backbone", default="resnet18", choices=BACKBONES)
    p.add_argument(
        "--weights",
        default=None,
        metavar="{imagenet,synthetic,none,FILE}",
        help="torchvision's ImageNet weights (from the cache: see fetch-weights), the "
        "synthetic backbone (resnet18 pretrained on fractals, shipped with the app), random "
        "initialization, or a state-dict file (default, as on the page: imagenet when its "
        "file is cached, else synthetic for resnet18, else none)",
    )
    p.add_argument("--strategy", default="linear", choices=STRATEGIES)
    p.add_argument(
        "--last-blocks",
        type=int,
        default=None,
        help=f"{limits.TRAIN_LAST_BLOCKS.help} (default {defaults.DEFAULT_LAST_BLOCKS}, as on "
        "the page)",
    )
    p.add_argument(
        "--epochs",
        type=int,
        default=defaults.DEFAULT_EPOCHS,
        help=f"{limits.TRAIN_EPOCHS.help} (default {defaults.DEFAULT_EPOCHS}, as on the page)",
    )
    p.add_argument(
        "--image-size",
        type=int,
        default=None,
        help=f"{limits.TRAIN_IMAGE_SIZE.help} (default, as on the page: 224 on a GPU, 32 on a CPU)",
    )
    p.add_argument("--batch-size", type=int, default=32, help=limits.TRAIN_BATCH_SIZE.help)
    p.add_argument("--lr", type=float, default=1e-3, help=limits.TRAIN_LR.help)
    p.add_argument("--val-fraction", type=float, default=0.2, help=limits.TRAIN_VAL_FRACTION.help)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default=None, help="cpu or cuda (default: the GPU if any)")
    p.add_argument("--out", metavar="MODEL.pt", help="save the trained model to this file")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_finetune)

    p = sub.add_parser("predict", help="classify images with a model saved by finetune --out")
    p.add_argument("model", metavar="MODEL.pt")
    p.add_argument("images", metavar="IMAGE", nargs="+")
    p.add_argument("--top", type=int, default=5, help="how many classes per image")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_predict)

    p = sub.add_parser(
        "fetch-weights",
        help="download torchvision's ImageNet weights into the torch cache, ahead of an "
        "offline class",
    )
    p.add_argument("names", metavar="NAME", nargs="*", help=f"e.g. {', '.join(BACKBONES)}")
    p.add_argument("--all", action="store_true", help="every file the app uses (as listed on home)")
    p.add_argument(
        "--setup",
        action="store_true",
        help="set-up's try: the default backbone's file only, never an error when offline",
    )
    p.add_argument(
        "--timeout", type=float, default=10.0, help="seconds per network wait with --setup"
    )
    p.set_defaults(run=cmd_fetch_weights)
