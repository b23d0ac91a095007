"""The default model to explain, which always works offline: the registry's LeNet-5 trained on
scikit-learn's handwritten digits (upscaled to 32x32, as LeNet-5 expects), seeded.

    python -m cnnviz.explain.default_model          # (make assets) writes assets/lenet5_digits.pt

The file holds the state dict, the class names, the preprocessing (image side, grayscale,
mean and std of the training images) and how it was made (seed, split, epochs, validation
accuracy), so a test can check that the shipped file still reaches the accuracy it states.
"""

from __future__ import annotations

import argparse
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from cnnviz import registry
from cnnviz.data import digits, stratified_split

ASSET = Path(__file__).resolve().parents[2] / "assets" / "lenet5_digits.pt"
NAME = "lenet5_digits"
SIDE = 32
SEED = 0
VAL_FRACTION = 0.2
EPOCHS = 30
BATCH = 64
LR = 2e-3


@dataclass(frozen=True)
class Preprocessing:
    """uint8 N x 3 x H x W -> float N x 1 x 32 x 32: resize, gray, scale to [0, 1], standardize."""

    image_size: int
    mean: float
    std: float

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        x = batch.float() / 255.0
        if x.shape[-2:] != (self.image_size, self.image_size):
            size = [self.image_size, self.image_size]
            x = F.interpolate(x, size=size, mode="bilinear", antialias=True, align_corners=False)
        gray = x.mean(dim=1, keepdim=True)  # the digits are gray: R = G = B
        return (gray - self.mean) / self.std

    def to_json(self) -> dict[str, Any]:
        return {
            "image_size": self.image_size,
            "grayscale": True,
            "mean": self.mean,
            "std": self.std,
        }


def split() -> tuple[torch.Tensor, torch.Tensor]:
    """The digits' train and validation indices (stratified, seeded) the file was made with."""
    return stratified_split(digits(SIDE).labels, VAL_FRACTION, seed=SEED)


def build() -> nn.Module:
    return registry.build("lenet5", input_size=(1, SIDE, SIDE), num_classes=10)


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean())


def train(epochs: int = EPOCHS, seed: int = SEED) -> dict[str, Any]:
    """Train LeNet-5 on the digits' training split; the document `torch.save` writes."""
    data = digits(SIDE)
    train_idx, val_idx = split()
    raw = data.images.float() / 255.0
    mean, std = float(raw[train_idx].mean()), float(raw[train_idx].std())
    prep = Preprocessing(SIDE, mean, std)
    x, y = prep(data.images), data.labels
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build()
        optimizer = torch.optim.Adam(model.parameters(), lr=LR)
        generator = torch.Generator().manual_seed(seed)
        for _ in range(epochs):
            model.train()
            order = train_idx[torch.randperm(len(train_idx), generator=generator)]
            for start in range(0, len(order), BATCH):
                batch = order[start : start + BATCH]
                optimizer.zero_grad()
                F.cross_entropy(model(x[batch]), y[batch]).backward()
                optimizer.step()
    model.eval()
    return {
        "name": NAME,
        "architecture": "lenet5",
        "state_dict": {k: v.detach().clone() for k, v in model.state_dict().items()},
        "classes": list(data.classes),
        "preprocessing": prep.to_json(),
        "seed": seed,
        "val_fraction": VAL_FRACTION,
        "epochs": epochs,
        "train_accuracy": accuracy(model, x[train_idx], y[train_idx]),
        "val_accuracy": accuracy(model, x[val_idx], y[val_idx]),
    }


def load_document(path: Path | str | io.BytesIO = ASSET) -> dict[str, Any]:
    """The saved document (weights_only: a state dict and plain values, nothing executable)."""
    return torch.load(path, map_location="cpu", weights_only=True)


def load(path: Path | str | io.BytesIO = ASSET) -> tuple[nn.Module, list[str], Preprocessing]:
    """The trained LeNet-5 (eval mode), its class names and its preprocessing."""
    doc = load_document(path)
    model = build()
    model.load_state_dict(doc["state_dict"])
    p = doc["preprocessing"]
    return model.eval(), list(doc["classes"]), Preprocessing(p["image_size"], p["mean"], p["std"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(ASSET))
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # one thread: the same sums in the same order on every machine
    doc = train(args.epochs, args.seed)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    torch.save(doc, args.out)
    size = Path(args.out).stat().st_size
    print(
        f"{args.out}: LeNet-5 on digits {SIDE}x{SIDE}, seed {args.seed}, {args.epochs} epochs: "
        f"train accuracy {doc['train_accuracy']:.4f}, validation accuracy "
        f"{doc['val_accuracy']:.4f} ({size / 1e3:.0f} kB)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
