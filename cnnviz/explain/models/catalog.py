"""The networks Explain knows by name: the default LeNet-5 trained on the digits (assets/, always
offline) and torchvision's ImageNet models (their cached weights, or seeded random ones), and
the top classes a network predicts."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torchvision
from torch import nn

from cnnviz import registry, shared_model, weights
from cnnviz.errors import (
    DoesNotFit,
    UnknownModel,
    WeightsMissing,
)
from cnnviz.explain import default_model
from cnnviz.explain import limits as explain_limits
from cnnviz.explain.models.explained import (
    DEFAULT,
    Explained,
    ModelSpec,
    Preprocess,
    _private,
)

_default_lock = threading.Lock()


@functools.lru_cache(maxsize=1)
def _default() -> tuple[nn.Module, list[str], default_model.Preprocessing]:
    return default_model.load()


@contextmanager
def _borrow_default() -> Iterator[nn.Module]:
    model = _default()[0]
    with _default_lock, shared_model.as_found(model):
        yield model


DEFAULT_SPEC = ModelSpec("default", DEFAULT, "digits")


def default() -> Explained:
    """LeNet-5 trained on scikit-learn's digits (the file in assets/)."""
    _, classes, prep = _default()
    return Explained(
        key=DEFAULT,
        title="LeNet-5 (digits)",
        classes=tuple(classes),
        channels=1,
        image_size=prep.image_size,
        fixed_size=True,
        source="default",
        _preprocess=prep,
        _borrow=_borrow_default,
        _spec=lambda: DEFAULT_SPEC,
    )


def imagenet_names() -> list[str]:
    """Registered models that torchvision publishes ImageNet weights for."""
    return [n for n in registry.names() if registry.get(n).torchvision_name is not None]


# The transfer-learning backbones that are not in the registry (cnnviz.weights): explained from
# the cache's ImageNet weights or a state-dict file, as private copies (not shared_model's).
EXTRA_TITLES = {"mobilenet_v3_small": "MobileNetV3-Small", "efficientnet_b0": "EfficientNet-B0"}


def torchvision_names() -> list[str]:
    """Every torchvision model the CLI explains: the registry's, then the extra backbones."""
    extra = [n for n in weights.EXTRA_TORCHVISION if n not in registry.REGISTRY]
    return [*imagenet_names(), *extra]


def weights_names() -> list[str]:
    """Every model `with_weights` loads a state dict into."""
    return [DEFAULT, *torchvision_names()]


def _title(name: str) -> str:
    return registry.get(name).title if name in registry.REGISTRY else EXTRA_TITLES.get(name, name)


def _imagenet_weights(name: str) -> torchvision.models.WeightsEnum:
    if name not in torchvision_names():
        raise UnknownModel(
            f"{name} has no ImageNet weights to explain.",
            f"Use {DEFAULT} or one of: {', '.join(torchvision_names())}.",
        )
    return weights.default_weights(name)


def _transform(w: torchvision.models.WeightsEnum, image_size: int | None) -> tuple[int, Preprocess]:
    """The crop side (default the weights' 224) and the weights' own transforms for it,
    resized first to 256/224 of the side."""
    side = explain_limits.EXPLAIN_SIDE.check(image_size or w.transforms().crop_size[0])
    return side, w.transforms(crop_size=side, resize_size=round(side * 256 / 224))


def imagenet(name: str, *, pretrained: bool = True, image_size: int | None = None) -> Explained:
    """torchvision's `name` (WeightsMissing, naming the file, when its weights are not on disk;
    pretrained=False: seeded random weights), preprocessed by the weights' own transforms.

    image_size: the crop side (default the weights' 224), resized first to 256/224 of it.
    The registry's models are shared by every session (shared_model); the extra backbones
    are loaded privately.
    """
    w = _imagenet_weights(name)
    if pretrained and not weights.weights_available(name):
        raise WeightsMissing(
            weights.missing_message(name), f"Or explain the default model, {DEFAULT}."
        )
    side, transform = _transform(w, image_size)
    kind = "ImageNet" if pretrained else "random weights"
    spec = ModelSpec(
        "imagenet" if pretrained else "untrained",
        name,
        "imagenet" if pretrained else "seed0",
        image_size=side,
    )
    base = Explained(
        key=f"{name}:{'imagenet' if pretrained else 'seed0'}",
        title=f"{_title(name)} ({kind})",
        classes=tuple(w.meta["categories"]),
        channels=3,
        image_size=side,
        fixed_size=False,
        source="imagenet" if pretrained else "untrained",
        _preprocess=transform,
        _borrow=lambda: shared_model.borrow(
            name, pretrained=pretrained, input_size=(3, side, side)
        ),
        _spec=lambda: spec,
    )
    if name in registry.REGISTRY:
        return base
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        net = (
            weights.load_pretrained(name)
            if pretrained
            else torchvision.models.get_model(name, weights=None)
        )
    return _private(
        base, net.eval(), list(base.classes), transform, base.key, base.title, spec=spec
    )


def _check_default_size(image_size: int | None) -> None:
    side = default_model.SIDE
    if image_size not in (None, side):
        raise DoesNotFit(
            f"LeNet-5 (digits) takes {side}x{side} images only (its fully connected layers "
            f"are sized for them), not {image_size}.",
            f"Leave out --image-size, or give {side}.",
        )


def by_name(name: str, *, image_size: int | None = None, pretrained: bool = True) -> Explained:
    """The default model by its name (`lenet5_digits`), else a torchvision ImageNet model."""
    if name != DEFAULT and name not in torchvision_names():
        raise UnknownModel(
            f"There is no model {name!r} to explain.",
            f"Use {DEFAULT} or one of: {', '.join(torchvision_names())}.",
        )
    if name == DEFAULT:
        _check_default_size(image_size)
        return default()
    return imagenet(name, pretrained=pretrained, image_size=image_size)


def predict(model: Explained, x: torch.Tensor, top: int = 5) -> list[tuple[int, str, float]]:
    """The top classes for the preprocessed input x: (index, name, probability)."""
    with model.borrow() as net, torch.no_grad():
        probs = torch.softmax(net(x), dim=1)[0]
    values, indices = probs.topk(min(top, probs.numel()))
    return [(int(i), model.classes[int(i)], float(v)) for v, i in zip(values, indices, strict=True)]
