"""What every network Explain looks into is (`Explained`: its classes, its preprocessing, how to
borrow it) and how a job names one (`ModelSpec`: it pickles)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import torch
from torch import nn

from cnnviz import shared_model
from cnnviz.errors import (
    NotAnImage,
    OutOfBounds,
)
from cnnviz.explain import default_model

DEFAULT = default_model.NAME


Preprocess = Callable[[torch.Tensor], torch.Tensor]


SOURCES = ("default", "imagenet", "untrained", "weights", "trained")


@dataclass(frozen=True)
class ModelSpec:
    """A network to explain by reference, not as an object: what a job takes. It pickles, and
    `resolve` turns it into the same model in any process.

    source: "default" (LeNet-5 on digits), "imagenet" (torchvision's weights from the cache),
    "untrained" (seeded random weights), "weights" (a state-dict file for `name`, CLI --weights)
    or "trained" (a fine-tuned model file, cnnviz.train.save_trained's format).
    weights: "digits", "imagenet", "seed0", or the file's content hash (sha256, 16 hex digits).
    file: the state-dict or fine-tuned model file ("weights" and "trained" only).
    image_size: the crop side asked for (None: the weights' own).
    """

    source: str
    name: str
    weights: str
    file: str | None = None
    image_size: int | None = None


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
    # How to name this network for a job (a fine-tuned model is written to the store then);
    # None: a network of this process alone (the sanity check's randomized copy).
    _spec: Callable[[], ModelSpec] | None = field(default=None, repr=False)

    def spec(self) -> ModelSpec:
        """The picklable reference a job takes instead of this object (`resolve` undoes it)."""
        if self._spec is None:
            raise ValueError(f"{self.title} exists in this process only: it has no ModelSpec.")
        return self._spec()

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


def _own_borrow(net: nn.Module) -> Callable[[], AbstractContextManager[nn.Module]]:
    """How to borrow a network of one's own (not shared_model's): its own lock, as found."""
    lock = threading.Lock()

    @contextmanager
    def borrow() -> Iterator[nn.Module]:
        with lock, shared_model.as_found(net):
            yield net

    return borrow


def _private(
    base: Explained,
    net: nn.Module,
    classes: list[str],
    prep: Preprocess,
    key: str,
    title: str | None = None,
    *,
    spec: ModelSpec | Callable[[], ModelSpec] | None = None,
) -> Explained:
    """`base` with a network, classes and preprocessing of its own (`spec`: how a job in
    another process builds the same; None: nowhere else)."""
    return Explained(
        key=key,
        title=title or base.title,
        classes=tuple(classes),
        channels=base.channels,
        image_size=base.image_size,
        fixed_size=base.fixed_size,
        source=base.source,
        _preprocess=prep,
        _borrow=_own_borrow(net),
        _spec=spec if spec is None or callable(spec) else (lambda: spec),
    )
