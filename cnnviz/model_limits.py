"""A model's input and the options a student gives a block or a module's builder (layer
tables, architecture pages, CLI `summary` and `rf`): cnnviz.registry checks them.

Shapes, parameters and MACs are computed on PyTorch's meta device, where an input costs the same
at any size, so these limits are generous.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cnnviz.errors import OutOfBounds
from cnnviz.limits import Limit

INPUT_SIDE = Limit(
    "input height or width",
    1,
    2048,
    "About 9 times ImageNet's 224: large enough to see how every volume follows the input.",
)

INPUT_DEPTH = Limit(
    "input depth (channels)",
    1,
    4096,
    "Eight times the deepest volume of VGG or ResNet's basic blocks (512).",
)

WIDTH = Limit(
    "number of filters",
    1,
    4096,
    "As wide as the widest layer of the lecture's networks (AlexNet's and VGG's FC layers).",
)

BLOCK_DEPTH = Limit(
    "input depth",
    4,
    4096,
    "A bottleneck block first reduces the depth 4 times (256 to 64), so at least 4.",
)

STRIDE_OPTION = Limit("stride", 1, 16, "A block's stride is 1 or 2 in ResNet.")

# Builder options and the limit that bounds them; any other whole-number option is a width.
OPTION_LIMITS: dict[str, Limit] = {"stride": STRIDE_OPTION, "num_classes": WIDTH}


def check_input(size: tuple[int, ...], side: Limit = INPUT_SIDE) -> tuple[int, int, int]:
    """A C, H, W input size within the limits, as ints; OutOfBounds otherwise."""
    if len(size) != 3:
        raise OutOfBounds(
            f"An input size is three numbers, depth, height and width; got {len(size)}.",
            "Give C,H,W, e.g. 3,224,224.",
        )
    c, h, w = size
    return (
        INPUT_DEPTH.check(c),
        side.check(h, "input height"),
        side.check(w, "input width"),
    )


def check_options(options: Mapping[str, Any]) -> None:
    """Whole-number builder options (block and branch widths, strides) within their limits."""
    for key, value in options.items():
        values = value if isinstance(value, (tuple, list)) else (value,)
        for v in values:
            if isinstance(v, int) and not isinstance(v, bool):
                limit = OPTION_LIMITS.get(key, WIDTH)
                limit.check(v, f"{limit.what} ({key})")
