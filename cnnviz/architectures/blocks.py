"""Single modules on the lecture's inputs: Inception (naive, bottleneck) and ResNet blocks."""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn
from torchvision.models.resnet import BasicBlock, Bottleneck, conv1x1

from cnnviz.registry import register


def conv_relu(in_channels: int, out_channels: int, kernel_size: int) -> nn.Sequential:
    """A 'same' convolution followed by ReLU."""
    return nn.Sequential(
        OrderedDict(
            conv=nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2),
            relu=nn.ReLU(inplace=True),
        )
    )


class InceptionModule(nn.Module):
    """Parallel branches on one input, concatenated depth-wise."""

    def __init__(self, branches: OrderedDict[str, nn.Module]):
        super().__init__()
        for name, branch in branches.items():
            self.add_module(name, branch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([branch(x) for branch in self.children()], dim=1)


@register(
    "inception_naive",
    family="GoogLeNet",
    title="Naive Inception module",
    default_input=(256, 28, 28),
    source="lecture",
    description="1x1, 3x3, 5x5 convolutions and a 3x3 max pool side by side (854,196,224 MACs "
    "on 28x28x256).",
)
def inception_naive(
    *,
    input_size: tuple[int, int, int] = (256, 28, 28),
    c1x1: int = 128,
    c3x3: int = 192,
    c5x5: int = 96,
) -> InceptionModule:
    """The slide's naive module; the pool branch keeps the input depth."""
    c = input_size[0]
    return InceptionModule(
        OrderedDict(
            branch1x1=conv_relu(c, c1x1, 1),
            branch3x3=conv_relu(c, c3x3, 3),
            branch5x5=conv_relu(c, c5x5, 5),
            branch_pool=nn.Sequential(OrderedDict(pool=nn.MaxPool2d(3, stride=1, padding=1))),
        )
    )


@register(
    "inception_bottleneck",
    family="GoogLeNet",
    title="Inception module with 1x1 bottlenecks",
    default_input=(256, 28, 28),
    source="lecture",
    description="1x1 convolutions reduce depth before the 3x3 and 5x5 and after the pool "
    "(271,351,808 MACs on 28x28x256).",
)
def inception_bottleneck(
    *,
    input_size: tuple[int, int, int] = (256, 28, 28),
    c1x1: int = 128,
    c3x3_reduce: int = 64,
    c3x3: int = 192,
    c5x5_reduce: int = 64,
    c5x5: int = 96,
    pool_proj: int = 64,
) -> InceptionModule:
    """The slide's module with 1x1 'bottleneck' reductions (GoogLeNet's own design)."""
    c = input_size[0]

    def reduce_then(reduce: int, out: int, k: int) -> nn.Sequential:
        return nn.Sequential(
            OrderedDict(reduce=conv_relu(c, reduce, 1), conv=conv_relu(reduce, out, k))
        )

    return InceptionModule(
        OrderedDict(
            branch1x1=conv_relu(c, c1x1, 1),
            branch3x3=reduce_then(c3x3_reduce, c3x3, 3),
            branch5x5=reduce_then(c5x5_reduce, c5x5, 5),
            branch_pool=nn.Sequential(
                OrderedDict(
                    pool=nn.MaxPool2d(3, stride=1, padding=1), proj=conv_relu(c, pool_proj, 1)
                )
            ),
        )
    )


def _shortcut(in_channels: int, out_channels: int, stride: int) -> nn.Module | None:
    """The projection shortcut (1x1 conv + BN) when the block changes shape, else identity."""
    if stride == 1 and in_channels == out_channels:
        return None
    return nn.Sequential(conv1x1(in_channels, out_channels, stride), nn.BatchNorm2d(out_channels))


@register(
    "resnet_basic_block",
    family="ResNet",
    title="ResNet basic block",
    default_input=(256, 56, 56),
    source="torchvision",
    description="Two 3x3 convolutions with batch norm; H(x) = F(x) + x.",
)
def resnet_basic_block(
    *, input_size: tuple[int, int, int] = (256, 56, 56), planes: int = 256, stride: int = 1
) -> BasicBlock:
    """torchvision's BasicBlock on the given input depth."""
    c = input_size[0]
    return BasicBlock(c, planes, stride=stride, downsample=_shortcut(c, planes, stride))


@register(
    "resnet_bottleneck_block",
    family="ResNet",
    title="ResNet bottleneck block",
    default_input=(256, 56, 56),
    source="torchvision",
    description="1x1 (reduce) -> 3x3 -> 1x1 (restore, 4x planes) with batch norm; H(x) = F(x) + x.",
)
def resnet_bottleneck_block(
    *, input_size: tuple[int, int, int] = (256, 56, 56), planes: int = 64, stride: int = 1
) -> Bottleneck:
    """torchvision's Bottleneck (stride on the 3x3, 'v1.5'); output depth is 4 x planes."""
    c = input_size[0]
    out = planes * Bottleneck.expansion
    return Bottleneck(c, planes, stride=stride, downsample=_shortcut(c, out, stride))
