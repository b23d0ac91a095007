"""Benchmark: what pretraining gives (issue 17), one table.

Linear probe and last-2-blocks fine-tune of resnet18 with random, synthetic and (when its file
is cached) ImageNet weights, on the built-in digits, lfw and textures (grayscale tiles of
scikit-image's brick, grass, gravel and moon photos, each at the same mean and contrast, so
that only texture tells them apart), seeds 0-2, the same settings and image size for every
cell: accuracy on the held-out 20%, mean and spread over the seeds.

Targets: on textures the synthetic linear probe at least 15 points above random (mean over
seeds); on digits and lfw no more than 1 point below it.

    python bench/transfer_gain.py [--image-size 64] [--epochs 15] [--seeds 0,1,2] [--json]
    python bench/transfer_gain.py --quick      # one seed, one dataset: a smoke test of the script
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import torch  # noqa: E402

from cnnviz import synthetic  # noqa: E402
from cnnviz import weights as tv_weights  # noqa: E402
from cnnviz.data import BUILTIN  # noqa: E402
from cnnviz.train import FinetuneConfig, finetune  # noqa: E402


def _quiet(**_: object) -> None:
    pass


def run(
    datasets: list[str],
    weights: list[str],
    strategies: list[str],
    seeds: list[int],
    image_size: int,
    epochs: int,
    device: str,
) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for name in datasets:
        data = BUILTIN[name](image_size)
        for strategy in strategies:
            for w in weights:
                accs, seconds = [], []
                for seed in seeds:
                    config = FinetuneConfig(
                        backbone="resnet18",
                        weights=w,
                        strategy=strategy,
                        last_blocks=2,
                        epochs=epochs,
                        image_size=image_size,
                        seed=seed,
                        device=device,
                    )
                    t0 = time.perf_counter()
                    result = finetune(data, config, report=_quiet)
                    seconds.append(time.perf_counter() - t0)
                    accs.append(float(result.val_accuracy or 0.0))
                row = {
                    "dataset": name,
                    "strategy": strategy,
                    "weights": w,
                    "accuracies": [round(a, 4) for a in accs],
                    "mean": round(statistics.mean(accs), 4),
                    "spread": round(max(accs) - min(accs), 4),
                    "seconds": round(statistics.mean(seconds), 1),
                }
                rows.append(row)
                print(
                    f"{name:<9} {strategy:<6} {w:<9} "
                    + " ".join(f"{a:.3f}" for a in accs)
                    + f"  mean {row['mean']:.3f}  ({row['seconds']} s a run)",
                    file=sys.stderr,
                    flush=True,
                )
    return rows


def table(rows: list[dict[str, object]], weights: list[str]) -> str:
    """Markdown: a row per dataset and strategy, a column per weights, the gain over random."""
    head = "| dataset | strategy | " + " | ".join(weights) + " | synthetic - random |"
    lines = [head, "|---|---|" + "---:|" * (len(weights) + 1)]
    keys = sorted(
        {(r["dataset"], r["strategy"]) for r in rows},
        key=lambda k: rows.index(next(r for r in rows if (r["dataset"], r["strategy"]) == k)),
    )
    for dataset, strategy in keys:
        cell = {
            r["weights"]: r for r in rows if (r["dataset"], r["strategy"]) == (dataset, strategy)
        }
        values = [
            f"{cell[w]['mean']:.3f} ± {float(cell[w]['spread']) / 2:.3f}" if w in cell else "-"
            for w in weights
        ]
        gain = (
            f"{100 * (float(cell['synthetic']['mean']) - float(cell['none']['mean'])):+.1f} pts"
            if "synthetic" in cell and "none" in cell
            else "-"
        )
        lines.append(f"| {dataset} | {strategy} | " + " | ".join(values) + f" | {gain} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--datasets", default="textures,digits,lfw")
    parser.add_argument("--strategies", default="linear,last")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    weights = ["none", "synthetic"]
    if tv_weights.weights_available("resnet18"):
        weights.append("imagenet")
    if not synthetic.available():
        sys.exit("assets/resnet18_synthetic.pt is missing: run `make assets` first")
    seeds = [int(s) for s in args.seeds.split(",")]
    datasets, strategies, epochs = args.datasets.split(","), args.strategies.split(","), args.epochs
    if args.quick:
        seeds, datasets, strategies, epochs = [0], ["textures"], ["linear"], 2
    print(
        f"resnet18, {args.image_size} px, {epochs} epochs, seeds {seeds}, device {args.device}, "
        f"{torch.get_num_threads()} threads; ImageNet file cached: {'imagenet' in weights}",
        file=sys.stderr,
    )
    rows = run(datasets, weights, strategies, seeds, args.image_size, epochs, args.device)
    if args.json:
        print(json.dumps(rows))
    else:
        print(table(rows, weights))


if __name__ == "__main__":
    main()
