"""Layers of the experiments: noise injection that draws from a seeded generator, the LeNet-5 of
the registry with noise inserted, and the plain and residual networks of the degradation
experiment (He et al. 2015, Fig. 1)."""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from cnnviz import registry


class _Seeded(nn.Module):
    """A layer that draws random numbers in train mode from `self.generator` (set by seed())."""

    generator: torch.Generator | None = None

    def _noise(self, like: torch.Tensor) -> torch.Tensor:
        return torch.randn(like.shape, generator=self.generator, dtype=like.dtype)


class GaussianNoise(_Seeded):
    """Additive noise on the inputs or on hidden units: x + N(0, std^2) in train mode, the
    identity in eval mode (the network is used on clean data)."""

    def __init__(self, std: float) -> None:
        super().__init__()
        if std < 0:
            raise ValueError(f"std must be >= 0, not {std}")
        self.std = float(std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.std == 0:
            return x
        return x + self.std * self._noise(x)

    def extra_repr(self) -> str:
        return f"std={self.std:g}"


class Dropout(_Seeded):
    """nn.Dropout drawn from a seeded generator: multiplicative noise on hidden units, each
    zeroed with probability p and the others scaled by 1/(1-p) in train mode; eval: identity."""

    def __init__(self, p: float) -> None:
        super().__init__()
        if not 0 <= p < 1:
            raise ValueError(f"p must be in [0, 1), not {p}")
        self.p = float(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        keep = torch.rand(x.shape, generator=self.generator, dtype=x.dtype) >= self.p
        return x * keep / (1 - self.p)

    def extra_repr(self) -> str:
        return f"p={self.p:g}"


def seed(model: nn.Module, generator: torch.Generator) -> nn.Module:
    """Let every noise layer of `model` draw from `generator`."""
    for module in model.modules():
        if isinstance(module, _Seeded):
            module.generator = generator
    return model


NOISE_KINDS = ("input", "hidden", "dropout")


def noisy_lenet(kind: str, magnitude: float) -> nn.Sequential:
    """The registry's LeNet-5 with noise: "input" adds Gaussian noise (std `magnitude`) to the
    image, "hidden" to the C5 and F6 units, "dropout" drops them with p = `magnitude`."""
    if kind not in NOISE_KINDS:
        raise ValueError(f"unknown noise kind {kind!r}; kinds: {', '.join(NOISE_KINDS)}")
    lenet = registry.build("lenet5", input_size=(1, 32, 32))
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    if kind == "input":
        layers["noise"] = GaussianNoise(magnitude)
    for name, module in lenet.named_children():
        layers[name] = module
        if name in ("tanh5", "tanh6") and kind != "input":
            layers[f"{kind}_{name[-1]}"] = (
                GaussianNoise(magnitude) if kind == "hidden" else Dropout(magnitude)
            )
    return nn.Sequential(layers)


# --- Degradation: plain vs residual ---------------------------------------------------------
NET_KINDS = ("plain", "residual")


class Block(nn.Module):
    """Two 3x3 convolutions (each with BatchNorm when `batch_norm`); the residual kind adds
    its input back before the last ReLU: H(x) = F(x) + x, the plain kind outputs F(x)."""

    def __init__(self, width: int, *, residual: bool, batch_norm: bool) -> None:
        super().__init__()
        self.residual = residual

        def norm() -> nn.Module:
            return nn.BatchNorm2d(width) if batch_norm else nn.Identity()

        self.conv1 = nn.Conv2d(width, width, 3, padding=1, bias=not batch_norm)
        self.bn1 = norm()
        self.conv2 = nn.Conv2d(width, width, 3, padding=1, bias=not batch_norm)
        self.bn2 = norm()
        self.relu = nn.ReLU()

    def branch(self, x: torch.Tensor) -> torch.Tensor:
        """F(x): what the block learns."""
        return self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.branch(x)
        return self.relu(out + x if self.residual else out)


def depth_net(
    kind: str, depth: int, *, width: int = 16, batch_norm: bool = True, pool: int = 4
) -> nn.Sequential:
    """A narrow CIFAR-style ResNet or its plain twin with `depth` weighted layers: a 3x3 conv
    stem, (depth - 2) / 2 blocks of two 3x3 convs, global average pooling and one FC to the
    10 digits. The 32x32 digits are average-pooled by `pool` first (to their native 8x8), which
    keeps a 32-layer net cheap on a CPU."""
    if kind not in NET_KINDS:
        raise ValueError(f"unknown network kind {kind!r}; kinds: {', '.join(NET_KINDS)}")
    if depth < 4 or depth % 2:
        raise ValueError(f"depth must be an even number >= 4, not {depth}")
    residual = kind == "residual"
    layers: OrderedDict[str, nn.Module] = OrderedDict(
        pool=nn.AvgPool2d(pool),
        stem=nn.Conv2d(1, width, 3, padding=1, bias=not batch_norm),
        stem_bn=nn.BatchNorm2d(width) if batch_norm else nn.Identity(),
        stem_relu=nn.ReLU(),
    )
    for i in range((depth - 2) // 2):
        layers[f"block{i + 1}"] = Block(width, residual=residual, batch_norm=batch_norm)
    layers["gap"] = nn.AdaptiveAvgPool2d(1)
    layers["flatten"] = nn.Flatten()
    layers["fc"] = nn.Linear(width, 10)
    return nn.Sequential(layers)
