"""The networks the Explain views look into, behind one interface (`Explained`):

- the default LeNet-5 trained on the digits (assets/lenet5_digits.pt), always offline;
- a torchvision ImageNet model whose pretrained weights are in the cache (class names from the
  weights' meta["categories"], preprocessing from the weights' own transforms), or the same
  architecture with seeded random weights (tests, benches, the sanity check's lesson);
- a session's fine-tuned model (cnnviz.train's TrainedModel: .model, .classes, .backbone,
  .image_size, .preprocess).

Every model is used through `Explained.borrow()`: under the model's lock, with gradients of the
weights switched off, and left exactly as found (cnnviz.shared_model.as_found), since captum
registers hooks and a model may be shared by every session of the server.
"""

from __future__ import annotations

import functools
import threading
import uuid
import weakref
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
import torchvision
from torch import nn

from cnnviz import limits, registry, shared_model, weights
from cnnviz.errors import (
    CnnvizError,
    DoesNotFit,
    NotAnImage,
    OutOfBounds,
    UnknownModel,
    WeightsMissing,
)
from cnnviz.explain import default_model

DEFAULT = default_model.NAME
Preprocess = Callable[[torch.Tensor], torch.Tensor]


class TrainedLike(Protocol):
    """What Explain needs of cnnviz.train.TrainedModel."""

    model: nn.Module
    classes: list[str]
    backbone: str
    image_size: int

    def preprocess(self, batch: torch.Tensor) -> torch.Tensor: ...


@dataclass(frozen=True, eq=False)
class Explained:
    """A network to explain: its classes, its preprocessing and how to borrow it."""

    key: str  # identifies the weights: caches of maps are keyed by it
    title: str
    classes: tuple[str, ...]
    channels: int  # depth of the preprocessed input
    image_size: int  # side of the preprocessed input
    fixed_size: bool  # whether the network only takes image_size (LeNet's FC layers)
    source: str  # "default", "imagenet", "untrained" or "trained"
    _preprocess: Preprocess = field(repr=False)
    _borrow: Callable[[], AbstractContextManager[nn.Module]] = field(repr=False)

    def borrow(self) -> AbstractContextManager[nn.Module]:
        """The network for this thread alone, weights' gradients off, then as found."""
        return _no_weight_grads(self._borrow)

    def preprocess(self, image: np.ndarray | torch.Tensor) -> torch.Tensor:
        """An H x W x 3 uint8 image (or 3 x H x W tensor) -> the 1 x C x S x S float input."""
        t = torch.as_tensor(np.array(image) if isinstance(image, np.ndarray) else image)
        if t.dtype != torch.uint8:
            raise NotAnImage("The image must hold 8-bit RGB values.")
        if t.ndim == 3 and t.shape[-1] == 3 and t.shape[0] != 3:
            t = t.permute(2, 0, 1)
        if t.ndim != 3 or t.shape[0] != 3:
            raise NotAnImage(f"An RGB image has 3 channels; this one has shape {tuple(t.shape)}.")
        return self._preprocess(t.unsqueeze(0).contiguous()).float()

    def class_index(self, target: int | str) -> int:
        """A class index or name -> its index; OutOfBounds when the model has no such class."""
        if isinstance(target, str) and not target.lstrip("-").isdigit():
            if target in self.classes:
                return self.classes.index(target)
            raise OutOfBounds(
                f"{self.title} has no class {target!r}.",
                f"Give a class index from 0 to {len(self.classes) - 1} or one of its names.",
            )
        index = int(target)
        if not 0 <= index < len(self.classes):
            raise OutOfBounds(
                f"Class {index} is outside {self.title}'s {len(self.classes)} classes.",
                f"Give a class index from 0 to {len(self.classes) - 1}.",
            )
        return index


@contextmanager
def _no_weight_grads(
    borrow: Callable[[], AbstractContextManager[nn.Module]],
) -> Iterator[nn.Module]:
    with borrow() as model:
        # Attributions need gradients of the input only; as_found restores the flags.
        for p in model.parameters():
            p.requires_grad_(False)
        yield model


# --- the default LeNet-5 on digits ----------------------------------------------------------
_default_lock = threading.Lock()


@functools.lru_cache(maxsize=1)
def _default() -> tuple[nn.Module, list[str], default_model.Preprocessing]:
    return default_model.load()


@contextmanager
def _borrow_default() -> Iterator[nn.Module]:
    model = _default()[0]
    with _default_lock, shared_model.as_found(model):
        yield model


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
    )


# --- torchvision ImageNet models ------------------------------------------------------------
def imagenet_names() -> list[str]:
    """Registered models that torchvision publishes ImageNet weights for."""
    return [n for n in registry.names() if registry.get(n).torchvision_name is not None]


def _imagenet_weights(name: str) -> torchvision.models.WeightsEnum:
    arch = registry.get(name)
    if arch.torchvision_name is None:
        raise UnknownModel(
            f"{name} has no ImageNet weights to explain.",
            f"Use {DEFAULT} or one of: {', '.join(imagenet_names())}.",
        )
    return torchvision.models.get_model_weights(arch.torchvision_name).DEFAULT


def imagenet(name: str, *, pretrained: bool = True, image_size: int | None = None) -> Explained:
    """torchvision's `name` (WeightsMissing, naming the file, when its weights are not on disk;
    pretrained=False: seeded random weights), preprocessed by the weights' own transforms.

    image_size: the crop side (default the weights' 224), resized first to 256/224 of it.
    """
    w = _imagenet_weights(name)
    if pretrained and not weights.weights_available(name):
        raise WeightsMissing(
            weights.missing_message(name), f"Or explain the default model, {DEFAULT}."
        )
    crop = w.transforms().crop_size[0]
    side = limits.EXPLAIN_SIDE.check(image_size or crop)
    transform = w.transforms(crop_size=side, resize_size=round(side * 256 / 224))

    @contextmanager
    def borrow() -> Iterator[nn.Module]:
        size = (3, side, side)
        with shared_model.borrow(name, pretrained=pretrained, input_size=size) as model:
            yield model

    kind = "ImageNet" if pretrained else "random weights"
    return Explained(
        key=f"{name}:{'imagenet' if pretrained else 'seed0'}",
        title=f"{registry.get(name).title} ({kind})",
        classes=tuple(w.meta["categories"]),
        channels=3,
        image_size=side,
        fixed_size=False,
        source="imagenet" if pretrained else "untrained",
        _preprocess=transform,
        _borrow=borrow,
    )


# --- a session's fine-tuned model (cnnviz.train) --------------------------------------------
_trained_locks: weakref.WeakKeyDictionary[nn.Module, threading.Lock] = weakref.WeakKeyDictionary()
_trained_keys: weakref.WeakKeyDictionary[nn.Module, str] = weakref.WeakKeyDictionary()
_guard = threading.Lock()


def trained(model: TrainedLike) -> Explained:
    """A fine-tuned model (cnnviz.train.TrainedModel or anything with the same attributes)."""
    net = model.model
    with _guard:
        lock = _trained_locks.setdefault(net, threading.Lock())
        key = _trained_keys.setdefault(net, f"trained:{model.backbone}:{uuid.uuid4().hex}")

    @contextmanager
    def borrow() -> Iterator[nn.Module]:
        with lock, shared_model.as_found(net):
            yield net

    first = next((m for m in net.modules() if isinstance(m, nn.Conv2d)), None)
    return Explained(
        key=key,
        title=f"Your fine-tuned {model.backbone}",
        classes=tuple(model.classes),
        channels=first.in_channels if first is not None else 3,
        image_size=int(model.image_size),
        fixed_size=False,
        source="trained",
        _preprocess=model.preprocess,
        _borrow=borrow,
    )


def load_trained_file(path: str | Path) -> Explained:
    """A file written by cnnviz.train.save_trained (CLI --trained)."""
    try:
        from cnnviz.train import load_trained  # the transfer-learning library (issue 9)
    except ImportError:
        raise UnknownModel(
            "This version of cnnviz cannot read fine-tuned models (cnnviz.train is missing).",
            "Use --model with --weights instead.",
        ) from None
    try:
        return trained(load_trained(path))
    except CnnvizError:
        raise
    except Exception as err:  # a corrupt or foreign file: one sentence, not a traceback
        raise UnknownModel(f"{path} is not a fine-tuned model file: {err}") from None


# --- a state dict for a registered architecture (CLI --weights) -----------------------------
def with_weights(name: str, path: str | Path, image_size: int | None = None) -> Explained:
    """`name` with the state dict in `path`, preprocessed as the ImageNet weights expect
    (or as the default model, for LeNet-5 digits weights)."""
    if name == DEFAULT:
        net, classes, prep = default_model.load(path)
        base = default()
        return _private(base, net, classes, prep, f"{DEFAULT}:{path}")
    from cnnviz.data import load_state_dict_file

    base = imagenet(name, pretrained=False, image_size=image_size)
    net = weights.untrained(name, (3, base.image_size, base.image_size))
    state = load_state_dict_file(Path(path).read_bytes())
    try:
        net.load_state_dict(state)
    except RuntimeError as err:
        raise DoesNotFit(
            f"{path} does not fit {name}: {str(err).splitlines()[0]}",
            f"Give a state dict saved from {name}.",
        ) from None
    return _private(base, net.eval(), list(base.classes), base._preprocess, f"{name}:{path}")


def _private(
    base: Explained, net: nn.Module, classes: list[str], prep: Preprocess, key: str
) -> Explained:
    lock = threading.Lock()

    @contextmanager
    def borrow() -> Iterator[nn.Module]:
        with lock, shared_model.as_found(net):
            yield net

    return Explained(
        key=key,
        title=base.title,
        classes=tuple(classes),
        channels=base.channels,
        image_size=base.image_size,
        fixed_size=base.fixed_size,
        source=base.source,
        _preprocess=prep,
        _borrow=borrow,
    )


def by_name(name: str, *, image_size: int | None = None, pretrained: bool = True) -> Explained:
    """The default model by its name (`lenet5_digits`), else a torchvision ImageNet model."""
    if name != DEFAULT and name not in imagenet_names():
        raise UnknownModel(
            f"There is no model {name!r} to explain.",
            f"Use {DEFAULT} or one of: {', '.join(imagenet_names())}.",
        )
    if name == DEFAULT:
        model = default()
        if image_size not in (None, model.image_size):
            raise DoesNotFit(
                f"{model.title} takes {model.image_size}x{model.image_size} images only "
                f"(its fully connected layers are sized for them), not {image_size}.",
                f"Leave out --image-size, or give {model.image_size}.",
            )
        return model
    return imagenet(name, pretrained=pretrained, image_size=image_size)


def predict(model: Explained, x: torch.Tensor, top: int = 5) -> list[tuple[int, str, float]]:
    """The top classes for the preprocessed input x: (index, name, probability)."""
    with model.borrow() as net, torch.no_grad():
        probs = torch.softmax(net(x), dim=1)[0]
    values, indices = probs.topk(min(top, probs.numel()))
    return [(int(i), model.classes[int(i)], float(v)) for v, i in zip(values, indices, strict=True)]
