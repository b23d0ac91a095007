"""The effective receptive field runs the real network on a real image, so its limits are
tighter than the meta-device analysis's (cnnviz.model_limits)."""

from __future__ import annotations

import math

from cnnviz.errors import OutOfBounds
from cnnviz.limits import Limit
from cnnviz.model_limits import check_input
from cnnviz.notation import hwc

FIELD_SIDE = Limit(
    "input height or width",
    1,
    512,
    "The effective field runs the real network on the picture at this size.",
)

FIELD_VALUES = Limit(
    "input (height x width x depth values)",
    1,
    2**20,
    "The effective field runs the real network: about a million input values, e.g. "
    "512x512x3 or 64x64x256.",
)

FIELD_PARAMS = Limit(
    "number of parameters",
    1,
    150_000_000,
    "The effective field builds the real network in memory; VGG-19 (143.7 M) is the largest "
    "that fits.",
)


def check_field_input(size: tuple[int, ...]) -> tuple[int, int, int]:
    """An input for the effective receptive field: sides and total values within the limits."""
    c, h, w = check_input(size, FIELD_SIDE)
    FIELD_VALUES.check(math.prod((c, h, w)), f"input ({hwc(h, w, c)} = {c * h * w:,} values)")
    return c, h, w


def check_unit(unit: tuple[int, ...], grid: tuple[int, ...], channels: int | None = None) -> None:
    """A unit (i, j) or (c, i, j) that exists on a rows x cols feature map (c < channels)."""
    *channel, i, j = unit
    rows, cols = grid
    if not (0 <= i < rows and 0 <= j < cols):
        raise OutOfBounds(
            f"Unit ({i}, {j}) is outside the {rows}x{cols} feature map.",
            f"Use a row from 0 to {rows - 1} and a column from 0 to {cols - 1}.",
        )
    if channel and channels is not None and not 0 <= channel[0] < channels:
        raise OutOfBounds(
            f"Channel {channel[0]} is outside the layer's {channels} channels.",
            f"Use a channel from 0 to {channels - 1}.",
        )
