"""AlexNet as the lecture draws it (one stream) and as the paper trained it (two GPU groups)."""

from __future__ import annotations

from collections import OrderedDict

from torch import nn

from cnnviz.arithmetic import feature_size
from cnnviz.registry import register

LECTURE_WIDTHS = (96, 256, 384, 384, 256)


def _alexnet(
    input_size: tuple[int, int, int],
    num_classes: int,
    widths: tuple[int, ...],
    fc_width: int,
    lrn: bool,
    dropout: float,
    groups: tuple[int, int, int, int, int],
) -> nn.Sequential:
    if len(widths) != 5:
        raise ValueError(f"AlexNet has 5 conv layers; got {len(widths)} widths")
    w1, w2, w3, w4, w5 = widths
    g1, g2, g3, g4, g5 = groups

    def norm() -> nn.Module:
        # Krizhevsky et al.: k=2, n=5, alpha=1e-4, beta=0.75
        return nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0) if lrn else nn.Identity()

    features = OrderedDict(
        conv1=nn.Conv2d(input_size[0], w1, 11, stride=4, padding=0, groups=g1),
        relu1=nn.ReLU(inplace=True),
        pool1=nn.MaxPool2d(3, stride=2),
        norm1=norm(),
        conv2=nn.Conv2d(w1, w2, 5, padding=2, groups=g2),
        relu2=nn.ReLU(inplace=True),
        pool2=nn.MaxPool2d(3, stride=2),
        norm2=norm(),
        conv3=nn.Conv2d(w2, w3, 3, padding=1, groups=g3),
        relu3=nn.ReLU(inplace=True),
        conv4=nn.Conv2d(w3, w4, 3, padding=1, groups=g4),
        relu4=nn.ReLU(inplace=True),
        conv5=nn.Conv2d(w4, w5, 3, padding=1, groups=g5),
        relu5=nn.ReLU(inplace=True),
        pool3=nn.MaxPool2d(3, stride=2),
    )
    if not lrn:
        del features["norm1"], features["norm2"]
    c, h, w = feature_size(features.items(), input_size)
    classifier = OrderedDict(
        flatten=nn.Flatten(),
        drop6=nn.Dropout(dropout),
        fc6=nn.Linear(c * h * w, fc_width),
        relu6=nn.ReLU(inplace=True),
        drop7=nn.Dropout(dropout),
        fc7=nn.Linear(fc_width, fc_width),
        relu7=nn.ReLU(inplace=True),
        fc8=nn.Linear(fc_width, num_classes),
    )
    return nn.Sequential(OrderedDict(**features, **classifier))


@register(
    "alexnet_lecture",
    family="AlexNet",
    title="AlexNet (lecture, one stream)",
    default_input=(3, 227, 227),
    source="lecture",
    description="The slides' AlexNet: 227x227x3, 96-256-384-384-256, LRN, one stream "
    "(62,378,344 params).",
)
def alexnet_lecture(
    *,
    input_size: tuple[int, int, int] = (3, 227, 227),
    num_classes: int = 1000,
    widths: tuple[int, ...] = LECTURE_WIDTHS,
    fc_width: int = 4096,
    lrn: bool = True,
    dropout: float = 0.5,
) -> nn.Sequential:
    """AlexNet as drawn on the slides, FC6 sized by the input."""
    return _alexnet(input_size, num_classes, widths, fc_width, lrn, dropout, (1, 1, 1, 1, 1))


@register(
    "alexnet_paper",
    family="AlexNet",
    title="AlexNet (paper, two GPUs)",
    default_input=(3, 227, 227),
    source="paper",
    description="Krizhevsky et al. 2012: conv2, conv4 and conv5 see only their own GPU's half "
    "of the channels (groups=2): 60,965,224 params.",
)
def alexnet_paper(
    *,
    input_size: tuple[int, int, int] = (3, 227, 227),
    num_classes: int = 1000,
    widths: tuple[int, ...] = LECTURE_WIDTHS,
    fc_width: int = 4096,
    lrn: bool = True,
    dropout: float = 0.5,
) -> nn.Sequential:
    """AlexNet with the paper's two-GPU channel groups on conv2, conv4 and conv5."""
    return _alexnet(input_size, num_classes, widths, fc_width, lrn, dropout, (1, 2, 1, 2, 2))
