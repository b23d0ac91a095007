"""One conv or pool layer (the layer calculator's first tab), the 1x1 bottleneck calculator and
the Inception ops page: arithmetic only (cnnviz.layer_calculator checks them)."""

from __future__ import annotations

from typing import Any

from cnnviz import model_limits
from cnnviz.limits import Limit

LAYER_SIDE = Limit(
    "input height or width",
    1,
    2048,
    "The calculator draws every input pixel a kernel tap touches.",
)

# The suggestions for a setting that does not fit try every group count up to the input depth.
LAYER_DEPTH = Limit("input depth", 1, 2048, "ResNet-50's deepest volume is 2048.")

# The drawing of the kernel over the padded input grows with the dilated kernel's span,
# d(k - 1) + 1: at most 125 here.
KERNEL = Limit("kernel size", 1, 32, "The lecture's kernels are 1 to 11; 32 leaves room to try.")

STRIDE = Limit("stride", 1, 64, "The lecture's strides are 1 to 4.")

PADDING = Limit("padding", 0, 64, "'Same' padding for the largest kernel (32) is 16.")

DILATION = Limit("dilation", 1, 4, "Dilated (atrous) 3x3 convolutions commonly use 2 or 4.")

FILTERS = Limit("number of filters", 1, 4096, "As many as AlexNet's and VGG's FC layers.")

GROUPS = Limit("number of groups", 1, 2048, "At most one group per input channel (depthwise).")

BOTTLENECK_SIDE = Limit("input height or width", 1, 2048, model_limits.INPUT_SIDE.why)

STACKED_MODULES = Limit("number of stacked modules", 2, 9, "GoogLeNet has 9 Inception modules.")


def check_layer(spec: Any) -> None:
    """A one-layer calculator setting (cnnviz.layer_fit.LayerSpec) within the upper limits.

    Values below the lower limits stay the calculator's own business: it explains them (a
    kernel of 0) as problems of the layer rather than refusing them.
    """
    for field, limit in (
        ("height", LAYER_SIDE),
        ("width", LAYER_SIDE),
        ("channels", LAYER_DEPTH),
        ("kernel", KERNEL),
        ("stride", STRIDE),
        ("padding", PADDING),
        ("dilation", DILATION),
        ("filters", FILTERS),
        ("groups", GROUPS),
    ):
        value = getattr(spec, field)
        if value > limit.high:
            limit.check(value, {"height": "input height", "width": "input width"}.get(field))
