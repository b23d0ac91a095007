"""Pretrain the synthetic backbone: torchvision's resnet18 trained from scratch to tell fractal
classes apart (cnnviz.synthetic.fractals), seeded so that the same recipe on the same machine
gives the same bytes.

The corpus is rendered once (the recipe's classes x images), then every batch is augmented
(random crop after padding, mirror) from a seeded generator. SGD with Nesterov momentum, a
one-cycle learning rate, label smoothing: the usual recipe for a small network trained from
scratch in few epochs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torchvision
from torch import nn

from cnnviz.data import normalize
from cnnviz.synthetic import fractals


@dataclass(frozen=True)
class Recipe:
    """Everything that decides the backbone's bytes (with torch's version and the CPU)."""

    backbone: str = "resnet18"
    classes: int = 64
    images_per_class: int = 60
    side: int = 32
    low_resolution: float = 0.3  # share of images drawn small and upscaled (blurred)
    epochs: int = 20
    batch_size: int = 128
    lr: float = 0.2
    weight_decay: float = 5e-4
    label_smoothing: float = 0.0  # smoothing makes features transfer worse (Kornblith 2021)
    seed: int = 0
    threads: int = 1  # torch's CPU threads: another count may sum in another order

    @property
    def images(self) -> int:
        return self.classes * self.images_per_class

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def render_corpus(
    recipe: Recipe, progress: Callable[[int, int], None] | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The recipe's fractal images (N x 3 x side x side uint8) and their class labels."""
    rng = np.random.default_rng(recipe.seed)
    classes = fractals.sample_classes(recipe.classes, rng)
    images = np.empty((recipe.images, recipe.side, recipe.side, 3), dtype=np.uint8)
    labels = np.repeat(np.arange(recipe.classes), recipe.images_per_class)
    for i, label in enumerate(labels):
        images[i] = fractals.render_instance(
            classes[label], rng, recipe.side, low_resolution=recipe.low_resolution
        )
        if progress is not None and (i + 1) % 500 == 0:
            progress(i + 1, recipe.images)
    return torch.from_numpy(images).permute(0, 3, 1, 2).contiguous(), torch.from_numpy(labels)


def _augment(batch: torch.Tensor, generator: torch.Generator, pad: int) -> torch.Tensor:
    """Each image shifted by up to `pad` pixels (zero padding, then a random crop) and mirrored
    with probability 1/2, each with its own draw."""
    n, _, h, w = batch.shape
    padded = nn.functional.pad(batch, (pad, pad, pad, pad))
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=generator)
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=generator)
    rows = (dy[:, None] + torch.arange(h))[:, None, :, None].expand(n, 3, h, w + 2 * pad)
    out = padded.gather(2, rows)
    cols = (dx[:, None] + torch.arange(w))[:, None, None, :].expand(n, 3, h, w)
    out = out.gather(3, cols)
    flip = torch.rand(n, generator=generator) < 0.5
    out[flip] = out[flip].flip(-1)
    return out


def pretrain(
    recipe: Recipe,
    images: torch.Tensor,
    labels: torch.Tensor,
    progress: Callable[[int, int, float], None] | None = None,
) -> tuple[nn.Module, dict[str, float]]:
    """resnet18 (recipe.classes outputs) trained on the corpus; progress(step, total, loss)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(recipe.threads)
    try:
        return _pretrain(recipe, images, labels, progress)
    finally:
        torch.set_num_threads(threads)


def _pretrain(
    recipe: Recipe,
    images: torch.Tensor,
    labels: torch.Tensor,
    progress: Callable[[int, int, float], None] | None,
) -> tuple[nn.Module, dict[str, float]]:
    start = time.perf_counter()
    generator = torch.Generator().manual_seed(recipe.seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(recipe.seed)
        model = torchvision.models.get_model(
            recipe.backbone, weights=None, num_classes=recipe.classes
        )
    steps_per_epoch = len(images) // recipe.batch_size  # the last partial batch is dropped
    total = recipe.epochs * steps_per_epoch
    optimizer = torch.optim.SGD(
        model.parameters(),
        lr=recipe.lr,
        momentum=0.9,
        nesterov=True,
        weight_decay=recipe.weight_decay,
    )
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=recipe.lr, total_steps=total, pct_start=0.15
    )
    loss_fn = nn.CrossEntropyLoss(label_smoothing=recipe.label_smoothing)
    model.train()
    step, correct, seen = 0, 0, 0
    for _ in range(recipe.epochs):
        order = torch.randperm(len(images), generator=generator)
        correct, seen = 0, 0
        for b in range(steps_per_epoch):
            idx = order[b * recipe.batch_size : (b + 1) * recipe.batch_size]
            x = normalize(_augment(images[idx], generator, pad=recipe.side // 8))
            y = labels[idx]
            logits = model(x)
            loss = loss_fn(logits, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            correct += int((logits.argmax(1) == y).sum())
            seen += len(idx)
            step += 1
            if progress is not None:
                progress(step, total, float(loss.detach()))
    model.eval()
    return model, {
        "train_accuracy": correct / max(seen, 1),
        "seconds": time.perf_counter() - start,
    }
