"""Shared inputs for the Explain tests: the default model on a validation digit, ResNet-18 with
seeded random weights on a small photo, and a snapshot of what borrowing must leave as found."""

from __future__ import annotations

import functools

import torch
from torch import nn

from cnnviz import images, shared_model
from cnnviz.data import digits
from cnnviz.explain import default_model, models

RESNET_SIDE = 64  # small: every method of ResNet-18 in well under a second each


@functools.lru_cache(maxsize=1)
def digit_input() -> tuple[models.Explained, torch.Tensor, int]:
    model = models.default()
    data = digits(default_model.SIDE)
    k = int(default_model.split()[1][3])
    return model, model.preprocess(data.images[k]), int(data.labels[k])


def resnet() -> tuple[models.Explained, torch.Tensor]:
    model = models.imagenet("resnet18", pretrained=False, image_size=RESNET_SIDE)
    return model, model.preprocess(images.photo("Coffee"))


def shared_resnet() -> nn.Module:
    """The very object every session borrows (the process's ResNet-18 with random weights)."""
    with shared_model.borrow("resnet18") as net:
        return net


def default_net() -> nn.Module:
    return models._default()[0]


def state(net: nn.Module) -> dict:
    """Everything a borrower must leave as found."""
    hooks = {
        (name, attr): len(getattr(m, attr))
        for name, m in net.named_modules()
        for attr in shared_model.MODULE_HOOKS
        if hasattr(m, attr)
    }
    return {
        "hooks": {k: v for k, v in hooks.items() if v},
        "modes": {n: m.training for n, m in net.named_modules()},
        "requires_grad": {n: p.requires_grad for n, p in net.named_parameters()},
        "grads": {n: p.grad is None for n, p in net.named_parameters()},
        "weights": {k: v.clone() for k, v in net.state_dict().items()},
    }


def assert_same(before: dict, after: dict) -> None:
    assert after["hooks"] == before["hooks"] == {}
    assert after["modes"] == before["modes"]
    assert after["requires_grad"] == before["requires_grad"]
    assert after["grads"] == before["grads"]
    assert before["weights"].keys() == after["weights"].keys()
    for k, v in before["weights"].items():
        assert torch.equal(v, after["weights"][k]), k
