"""The shipped synthetic backbone: `assets/resnet18_synthetic.pt` (half-precision state dict of
torchvision's resnet18 without its head) and `assets/resnet18_synthetic.json` (the recipe
that made it, the file's SHA-256 and what it measured)."""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from pathlib import Path

import torch

from cnnviz.errors import WeightsMissing

ASSETS = Path(__file__).resolve().parents[2] / "assets"
BACKBONE = "resnet18"
WEIGHTS_PATH = ASSETS / f"{BACKBONE}_synthetic.pt"
RECIPE_PATH = ASSETS / f"{BACKBONE}_synthetic.json"


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def card(path: Path = RECIPE_PATH) -> dict[str, object]:
    """The recipe file: {"recipe", "sha256", "images", "seconds", ...}; {} when absent."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def supports(backbone: str) -> bool:
    """Whether a synthetic backbone ships for `backbone` (resnet18 only)."""
    return backbone == BACKBONE


def available(backbone: str = BACKBONE) -> bool:
    return supports(backbone) and WEIGHTS_PATH.is_file()


def description() -> str:
    """One sentence a student understands: what the synthetic weights are."""
    images = card().get("images")
    count = f"{images:,}" if isinstance(images, int) else "thousands of"
    return (
        f"ResNet-18 pretrained here on {count} procedurally generated images (fractals drawn "
        "from formulas), no photo: it learned edges and shapes, not ImageNet's classes."
    )


def save(state: dict[str, torch.Tensor], path: Path = WEIGHTS_PATH) -> None:
    """The state dict in half precision (floats only; batch norm's counters stay integers)."""
    half = OrderedDict(
        (k, v.detach().to(torch.float16) if v.is_floating_point() else v.detach())
        for k, v in state.items()
    )
    torch.save(half, path)


def load_state(path: Path = WEIGHTS_PATH) -> OrderedDict[str, torch.Tensor]:
    """The backbone's weights as float32 (what torchvision's resnet18 holds), from disk."""
    if not path.is_file():
        raise WeightsMissing(
            f"The synthetic backbone ({path.name}) is not in the app's assets folder.",
            "Run `make assets` to build it (about 20 minutes on 2 cores), or pick other weights.",
        )
    state = torch.load(path, map_location="cpu", weights_only=True)
    return OrderedDict((k, v.float() if v.is_floating_point() else v) for k, v in state.items())
