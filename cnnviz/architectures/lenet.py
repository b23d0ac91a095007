"""LeNet-5 (LeCun et al. 1998): the modern reading and the paper's own layers."""

from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

from cnnviz.arithmetic import feature_size
from cnnviz.registry import register

# Table I of the paper: which S2 maps (rows) feed each C3 map (columns 0..15).
C3_TABLE: tuple[tuple[int, ...], ...] = (
    *((i, (i + 1) % 6, (i + 2) % 6) for i in range(6)),
    *((i, (i + 1) % 6, (i + 2) % 6, (i + 3) % 6) for i in range(6)),
    (0, 1, 3, 4),
    (1, 2, 4, 5),
    (0, 2, 3, 5),
    (0, 1, 2, 3, 4, 5),
)


class ConnectionTableConv2d(nn.Module):
    """A convolution where output map j sees only the input maps in table[j].

    Only the connected kernels are parameters, so C3 really has 60*25 + 16 = 1,516 of them.
    """

    def __init__(self, in_channels: int, table: tuple[tuple[int, ...], ...], kernel_size: int):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, len(table)
        self.kernel_size, self.stride, self.padding, self.dilation = kernel_size, 1, 0, 1
        out_idx = [j for j, ins in enumerate(table) for _ in ins]
        in_idx = [i for ins in table for i in ins]
        self.register_buffer("out_idx", torch.tensor(out_idx), persistent=False)
        self.register_buffer("in_idx", torch.tensor(in_idx), persistent=False)
        self.connections = len(in_idx)
        self.weight = nn.Parameter(torch.empty(len(in_idx), kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(len(table)))
        nn.init.uniform_(self.weight, -((2.4 / 25) ** 0.5), (2.4 / 25) ** 0.5)

    def dense_weight(self) -> torch.Tensor:
        k = self.kernel_size
        w = self.weight.new_zeros(self.out_channels, self.in_channels, k, k)
        return w.index_put((self.out_idx, self.in_idx), self.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.dense_weight(), self.bias)

    def weight_macs(self, output_shape: tuple[int, ...]) -> int:
        """Only connected kernels multiply: connections x kernel area x output positions."""
        return self.weight.numel() * output_shape[-1] * output_shape[-2]


class Subsampling(nn.Module):
    """The paper's S2/S4: 2x2 sum times one trainable coefficient plus one bias per map."""

    def __init__(self, channels: int):
        super().__init__()
        self.kernel_size, self.stride, self.padding, self.dilation = 2, 2, 0, 1
        self.coefficient = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = F.avg_pool2d(x, 2) * 4
        return pooled * self.coefficient.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)

    def weight_macs(self, output_shape: tuple[int, ...]) -> int:
        return int(torch.Size(output_shape).numel())  # one coefficient multiply per output


class RBFOutput(nn.Module):
    """Euclidean RBF units: y_i = sum_j (x_j - w_ij)^2 with fixed +-1 centers (not trained)."""

    def __init__(self, in_features: int, num_classes: int):
        super().__init__()
        self.in_features, self.out_features = in_features, num_classes
        centers = torch.randint(0, 2, (num_classes, in_features)).float() * 2 - 1
        self.centers = nn.Parameter(centers, requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return ((x.unsqueeze(1) - self.centers) ** 2).sum(-1)

    def weight_macs(self, output_shape: tuple[int, ...]) -> int:
        return self.centers.numel()  # one squared difference per connection


@register(
    "lenet5",
    family="LeNet-5",
    title="LeNet-5",
    default_input=(1, 32, 32),
    source="lecture",
    description="Modern LeNet-5: tanh, 2x2 average pooling, linear 84->10 output (61,706 params).",
)
def lenet5(
    *,
    input_size: tuple[int, int, int] = (1, 32, 32),
    num_classes: int = 10,
    c3_table: bool = False,
    trainable_subsampling: bool = False,
    rbf_output: bool = False,
) -> nn.Sequential:
    """LeNet-5; the three switches together give the paper's network (60,000 trainable)."""
    in_c = input_size[0]

    def pool(channels: int) -> nn.Module:
        return Subsampling(channels) if trainable_subsampling else nn.AvgPool2d(2)

    c3: nn.Module = ConnectionTableConv2d(6, C3_TABLE, 5) if c3_table else nn.Conv2d(6, 16, 5)
    features = OrderedDict(
        c1=nn.Conv2d(in_c, 6, 5),
        tanh1=nn.Tanh(),
        s2=pool(6),
        c3=c3,
        tanh3=nn.Tanh(),
        s4=pool(16),
        c5=nn.Conv2d(16, 120, 5),
        tanh5=nn.Tanh(),
    )
    c, h, w = feature_size(features.items(), input_size)
    head = OrderedDict(
        flatten=nn.Flatten(),
        f6=nn.Linear(c * h * w, 84),
        tanh6=nn.Tanh(),
        output=RBFOutput(84, num_classes) if rbf_output else nn.Linear(84, num_classes),
    )
    return nn.Sequential(OrderedDict(**features, **head))


register(
    "lenet5_paper",
    family="LeNet-5",
    title="LeNet-5 (1998 paper)",
    default_input=(1, 32, 32),
    source="paper",
    description="The paper's LeNet-5: C3 connection table, trainable subsampling, RBF output "
    "(60,000 trainable parameters).",
    c3_table=True,
    trainable_subsampling=True,
    rbf_output=True,
)(lenet5)
