"""The lecture's 2x2 table (lecture-facts section 3): which strategy suits a dataset, from its
size and whether its images look like ImageNet's."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# "Small" below 1,000 images. A classroom upload (tens to a few hundred images per class, a
# few classes) falls below it, built-in digits (1,797) above. At that size the trade-off turns:
# a linear head on ResNet-18 has 513 weights per class, about as many as there are images,
# while its last block alone has 8.4 M; below ~1,000 images unfreezing blocks overfits within
# a few epochs (training accuracy runs to 100 % while validation stalls), above it the last
# blocks gain from adapting. A rule of thumb, as the lecture's table is: the page says so.
SMALL_BELOW = 1_000

Size = Literal["small", "large"]


@dataclass(frozen=True)
class Recommendation:
    """The table's cell for a dataset: the strategy to start from and why."""

    strategy: str  # "linear", "last" or "full"
    size: Size
    similar: bool
    reason: str


_CELLS: dict[tuple[Size, bool], tuple[str, str]] = {
    ("small", True): (
        "linear",
        "Few images, like ImageNet's: its features already describe them. Freeze the whole "
        "network and train only a new linear classifier on top (linear probe).",
    ),
    ("small", False): (
        "last",
        "Few images, unlike ImageNet's: the top layers' features fit them poorly, so fine-tune "
        "a larger number of layers (the last few blocks). The risk: with so few images the "
        "network overfits quickly; keep the learning rate small, watch the validation curve "
        "and stop when it turns.",
    ),
    ("large", True): (
        "last",
        "Many images, like ImageNet's: fine-tune the last blocks and the new head; the early "
        "layers' edges and textures are kept as they are.",
    ),
    ("large", False): (
        "full",
        "Many images, unlike ImageNet's: fine-tune the whole network, starting from the "
        "pretrained weights (still better than random initialization).",
    ),
}


def dataset_size(n_images: int) -> Size:
    return "small" if n_images < SMALL_BELOW else "large"


RANDOM_REASON = (
    "These weights are random: nothing was pretrained, so there is nothing to transfer. A "
    "linear probe on random features learns little (simple images such as digits still "
    "separate; textures and photos far less well than on pretrained features). Train the "
    "whole network (full fine-tune), "
    "expect it to need more epochs, or start from pretrained weights."
)
SYNTHETIC_REASON = (
    "The synthetic backbone learned from fractals only, nothing like your photos: the table's "
    '"unlike ImageNet" row applies. '
)


def recommend(n_images: int, similar: bool, weights: str = "imagenet") -> Recommendation:
    """The lecture's cell for `n_images` images, similar (or not) to ImageNet; with random
    weights ("none") a full fine-tune whatever the size, with the synthetic backbone the
    "unlike" row (its pretraining images are fractals)."""
    size = dataset_size(n_images)
    if weights == "none":
        return Recommendation(
            strategy="full", size=size, similar=bool(similar), reason=RANDOM_REASON
        )
    if weights == "synthetic":
        strategy, reason = _CELLS[(size, False)]
        return Recommendation(strategy, size, False, SYNTHETIC_REASON + reason)
    strategy, reason = _CELLS[(size, bool(similar))]
    return Recommendation(strategy=strategy, size=size, similar=bool(similar), reason=reason)
