"""VGG's stacks of 3x3 convolutions against the single larger convolution they replace.

n stacked 3x3 convolutions see (2n+1)x(2n+1) pixels, like one (2n+1)x(2n+1) convolution, with
fewer parameters and n ReLUs instead of one (lecture section 6).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import torch
from torch import nn

from cnnviz.receptive_field import receptive_fields


def stacked_3x3(n: int, channels: int) -> nn.Sequential:
    """n stacked 3x3 convolutions (stride 1, pad 1, no bias), each followed by a ReLU."""
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    for i in range(1, n + 1):
        layers[f"conv{i}"] = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        layers[f"relu{i}"] = nn.ReLU(inplace=True)
    return nn.Sequential(layers)


def single_conv(kernel: int, channels: int) -> nn.Sequential:
    """One kernel x kernel convolution ('same' padding, no bias) and its ReLU."""
    return nn.Sequential(
        OrderedDict(
            conv1=nn.Conv2d(channels, channels, kernel, padding=kernel // 2, bias=False),
            relu1=nn.ReLU(inplace=True),
        )
    )


@dataclass(frozen=True)
class StackingRow:
    """n stacked 3x3 convolutions against the one (2n+1)x(2n+1) convolution they replace."""

    n: int
    kernel: int
    stacked_rf: int
    single_rf: int
    stacked_params: int
    single_params: int
    stacked_nonlinearities: int
    single_nonlinearities: int


def stacking_table(channels: int, depths: range = range(1, 5)) -> list[StackingRow]:
    """Receptive field, parameters (no biases) and ReLUs of each stack and its single conv."""
    from cnnviz.analysis import analyze_module  # analysis imports torchinfo: load it lazily

    if channels < 1:
        raise ValueError(f"channels must be at least 1, not {channels}")
    rows = []
    for n in depths:
        kernel = 2 * n + 1
        size = (channels, 4 * kernel, 4 * kernel)
        with torch.device("meta"):
            stack, single = stacked_3x3(n, channels), single_conv(kernel, channels)
        stacked_rf = receptive_fields(stack, size)[f"conv{n}"].rf[0]
        single_rf = receptive_fields(single, size)["conv1"].rf[0]
        rows.append(
            StackingRow(
                n=n,
                kernel=kernel,
                stacked_rf=stacked_rf,
                single_rf=single_rf,
                stacked_params=analyze_module(stack, size, f"{n} x 3x3").total_params,
                single_params=analyze_module(single, size, f"{kernel}x{kernel}").total_params,
                stacked_nonlinearities=n,
                single_nonlinearities=1,
            )
        )
    return rows
