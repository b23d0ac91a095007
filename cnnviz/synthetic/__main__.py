"""Build the synthetic backbone (`make assets`): render the fractal corpus, pretrain resnet18 on
it, write `assets/resnet18_synthetic.pt` and its card `assets/resnet18_synthetic.json`.

    python -m cnnviz.synthetic                  # the shipped recipe, about 20 minutes on 2 cores
    python -m cnnviz.synthetic --check          # rebuild into a temporary file, compare SHA-256
    python -m cnnviz.synthetic --out DIR --classes 4 --images-per-class 8 --epochs 1   # a sketch
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch
from tqdm import tqdm

from cnnviz.synthetic import asset
from cnnviz.synthetic.pretrain import Recipe, pretrain, render_corpus


def build(recipe: Recipe, weights_path: Path, card_path: Path | None) -> dict[str, object]:
    """Render, pretrain, save; the card (also written to card_path when given)."""
    start = time.perf_counter()
    with tqdm(total=recipe.images, desc="Rendering fractals", unit="img", file=sys.stderr) as bar:
        images, labels = render_corpus(recipe, lambda done, _: bar.update(done - bar.n))
        bar.update(recipe.images - bar.n)
    rendered = time.perf_counter() - start
    with tqdm(desc="Pretraining resnet18", unit="step", file=sys.stderr) as bar:

        def progress(step: int, total: int, loss: float) -> None:
            bar.total = total
            bar.update(step - bar.n)
            if step % 20 == 0:
                bar.set_postfix(loss=f"{loss:.3f}")

        model, info = pretrain(recipe, images, labels, progress)
    state = {k: v for k, v in model.state_dict().items() if not k.startswith("fc.")}
    weights_path.parent.mkdir(parents=True, exist_ok=True)
    asset.save(state, weights_path)
    card: dict[str, object] = {
        "backbone": recipe.backbone,
        "file": weights_path.name,
        "sha256": asset.sha256(weights_path),
        "bytes": weights_path.stat().st_size,
        "images": recipe.images,
        "corpus": "iterated-function-system fractals (cnnviz.synthetic.fractals), no photo",
        "recipe": recipe.to_json(),
        "pretrain_train_accuracy": round(info["train_accuracy"], 4),
        "seconds": {"render": round(rendered, 1), "pretrain": round(info["seconds"], 1)},
        "torch": torch.__version__,
        "machine": platform.machine(),
    }
    if card_path is not None:
        card_path.write_text(json.dumps(card, indent=2) + "\n")
    return card


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cnnviz.synthetic", description=__doc__)
    parser.add_argument("--out", type=Path, help="a folder instead of assets/ (no card kept)")
    parser.add_argument("--check", action="store_true", help="rebuild and compare the SHA-256")
    for field in dataclasses.fields(Recipe):
        if field.type in ("int", "float"):
            flag = "--" + field.name.replace("_", "-")
            parser.add_argument(flag, type=int if field.type == "int" else float, default=None)
    args = parser.parse_args(argv)
    overrides = {
        f.name: getattr(args, f.name)
        for f in dataclasses.fields(Recipe)
        if getattr(args, f.name, None) is not None
    }
    if args.check:
        shipped = asset.card()
        recipe = Recipe(**shipped.get("recipe", {}))  # type: ignore[arg-type]
        with tempfile.TemporaryDirectory() as tmp:
            card = build(recipe, Path(tmp) / asset.WEIGHTS_PATH.name, None)
        same = card["sha256"] == shipped.get("sha256")
        print(
            f"rebuilt {card['sha256']}, shipped {shipped.get('sha256')}: "
            f"{'identical' if same else 'DIFFERENT'}"
        )
        return 0 if same else 1
    recipe = dataclasses.replace(Recipe(), **overrides)
    if args.out is not None:
        card = build(recipe, args.out / asset.WEIGHTS_PATH.name, args.out / asset.RECIPE_PATH.name)
    else:
        card = build(recipe, asset.WEIGHTS_PATH, asset.RECIPE_PATH)
    print(json.dumps(card))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
