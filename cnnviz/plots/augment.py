"""Images of the augmentation explorer made fit to view: crisp (nearest-neighbour upscaling, so
a 32x32 digit shows its pixels instead of a blur) and laid out in a grid of draws."""

from __future__ import annotations

import math

import numpy as np
import torch

# Images with a side under SMALL (digits, small crops) are enlarged to at least VIEW_SIDE with
# whole-pixel blocks: the browser then only shrinks them a little to the column's width, and
# their pixels stay sharp instead of being smoothed into a blur. Photos are shown as they are.
SMALL = 128
VIEW_SIDE = 384


def tile(image: torch.Tensor, min_side: int = VIEW_SIDE) -> np.ndarray:
    """A C x H x W uint8 image as H' x W' x 3 for display: an image with a side under SMALL is
    enlarged by a whole factor (nearest neighbour) until its shorter side reaches `min_side`."""
    rgb = image.expand(3, -1, -1) if image.shape[0] == 1 else image
    side = min(rgb.shape[-2:])
    factor = max(1, math.ceil(min_side / side)) if side < SMALL else 1
    if factor > 1:
        rgb = rgb.repeat_interleave(factor, dim=-2).repeat_interleave(factor, dim=-1)
    return rgb.permute(1, 2, 0).contiguous().numpy()


def view_format(image: torch.Tensor) -> str:
    """PNG for an image that `tile` enlarges (JPEG would blur its pixel edges), JPEG for a
    photo-sized one (a tenth of the bytes, for a class on one server)."""
    return "PNG" if min(image.shape[-2:]) < SMALL else "JPEG"


def grid_columns(n: int) -> int:
    """Columns for n draws: 6 as 3x2 (the lecture's "multiplied by 6"), up to 4 per row."""
    if n <= 3:
        return n
    if n <= 6 or n == 9:
        return 3
    return 4
