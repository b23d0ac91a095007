"""Effective fields computed ahead of time, so a student's first look at a layer is a lookup.

The receptive-field page shows the effective field of each layer's center unit on its default photo.
One backward pass per layer is a wait a student notices; `compute_plan()` computes the ones a class
opens first (every layer of the default model, and the first view of each model that is cheap to
build) when the server starts, before it listens: a background thread would hold the GIL against the
first student's page and its static files. It stores them in `precomputed`, where
`effective.effective_field_of` looks results up before it runs anything: a hit returns exactly
what the run would have (same function, same seeded weights, same input), which tests check.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

from cnnviz import images, registry, weights
from cnnviz.receptive_field import limits, precomputed
from cnnviz.receptive_field.effective import check_parameters, effective_receptive_field
from cnnviz.receptive_field.theoretical import receptive_fields_of, telling_layer

# The page's defaults (pages/receptive_field.py): model, photo.
DEFAULT_MODEL = "resnet18"
DEFAULT_PHOTO = "Astronaut"
# The other models whose first view (the layer the page opens on, untrained: seeded weights
# and one backward pass) is cheap, so that start-up stays short: a student switching models
# would otherwise wait for it. Left out, each costing more than all of these together: the
# VGGs (130 M weights to draw), GoogLeNet (truncated-normal draws), ResNet-101/152.
CHEAP_MODELS = (
    "lenet5",
    "lenet5_paper",
    "alexnet_lecture",
    "alexnet_paper",
    "alexnet",
    "inception_naive",
    "inception_bottleneck",
    "resnet_basic_block",
    "resnet_bottleneck_block",
    "resnet34",
    "resnet50",
)


def default_input(arch: registry.Architecture) -> torch.Tensor:
    """What the page feeds `arch` before anyone changes a setting: the default photo fitted to
    the model's default input (grayscale for one channel)."""
    c, h, w = arch.default_input
    return images.to_input(images.fit(images.photo(DEFAULT_PHOTO), h, w), c)


def compute(name: str, layers: Iterable[str] | None = None, *, pretrained: bool = False) -> int:
    """Store the center unit's effective field of `layers` (default: the layer the page opens
    on) of `name` at its default input; the number stored. Runs on a model of its own (built
    like the shared one: the same seeded weights), so no student waits for a lock meanwhile."""
    arch = registry.get(name)  # the one lookup: what follows takes the architecture
    size = limits.check_field_input(arch.default_input)
    fields = receptive_fields_of(name, size)  # cached by name: the page's first call is free
    check_parameters(arch, size, pretrained)  # the page's check: it would not run it either
    chosen = list(layers) if layers is not None else [telling_layer(fields, size)]
    image = default_input(arch)
    if pretrained:
        model = weights.load_pretrained(name)
    else:
        model = weights.untrained(arch, size if arch.takes_input_size else None)
    done = 0
    for layer in chosen:
        rows, cols = fields[layer].grid
        unit = (rows // 2, cols // 2)
        k = precomputed.key(name, pretrained, layer, unit, image)
        if precomputed.lookup(k) is None:
            precomputed.store(k, effective_receptive_field(model, layer, unit, image))
            done += 1
    return done


def plan() -> list[tuple[str, list[str] | None, bool]]:
    """(model, layers, pretrained): every layer of the default model, untrained, then
    pretrained where its weights are on disk; then the first view of each of CHEAP_MODELS
    (None: the layer the page opens on), untrained. The rest are left to the first student who
    opens them: their seeded weights alone are slow to draw (VGG-19 the slowest) and take as
    much memory again as the model (a model built here is dropped once its fields are stored)."""
    default_size = registry.get(DEFAULT_MODEL).default_input
    layers = list(receptive_fields_of(DEFAULT_MODEL, default_size))
    steps: list[tuple[str, list[str] | None, bool]] = [(DEFAULT_MODEL, layers, False)]
    if weights.weights_available(DEFAULT_MODEL):
        steps.append((DEFAULT_MODEL, layers, True))
    steps += [(name, None, False) for name in CHEAP_MODELS]
    return steps


def compute_plan() -> int:
    """Compute `plan()` here and now; the number stored (`cnnviz.server.serve` runs it before the
    server listens)."""
    return sum(compute(name, layers, pretrained=pretrained) for name, layers, pretrained in plan())
