"""Images of the augmentation explorer made fit to view: crisp (nearest-neighbour upscaling, so
a 32x32 digit shows its pixels instead of a blur) and laid out in a grid of draws."""

from __future__ import annotations

import math

import numpy as np
import torch

VIEW_SIDE = 192  # small images are shown at least this large: 32x32 digits 6 times


def tile(image: torch.Tensor, min_side: int = VIEW_SIDE) -> np.ndarray:
    """A C x H x W uint8 image as H' x W' x 3 for display, enlarged by a whole factor with
    nearest-neighbour sampling until its shorter side reaches `min_side`."""
    rgb = image.expand(3, -1, -1) if image.shape[0] == 1 else image
    factor = max(1, math.ceil(min_side / min(rgb.shape[-2:])))
    if factor > 1:
        rgb = rgb.repeat_interleave(factor, dim=-2).repeat_interleave(factor, dim=-1)
    return rgb.permute(1, 2, 0).contiguous().numpy()


def view_format(image: torch.Tensor) -> str:
    """PNG for an image that `tile` enlarges (JPEG would blur its pixel edges), JPEG for a
    photo-sized one (a tenth of the bytes, for a class on one server)."""
    return "PNG" if min(image.shape[-2:]) < VIEW_SIDE else "JPEG"


def grid_columns(n: int) -> int:
    """Columns for n draws: 6 as 3x2 (the lecture's "multiplied by 6"), up to 4 per row."""
    if n <= 3:
        return n
    if n <= 6 or n == 9:
        return 3
    return 4
