"""Effective fields computed ahead of time, so a student's first look at a layer is a lookup.

The receptive-field page shows the effective field of each layer's centre unit on its default
photo. One backward pass per layer costs 0.05-0.4 s on 2 cores; `compute_plan()` computes the
ones a class opens first (every layer of the default model, about 4 s on one core, and the
first view of each model that is cheap to build, about 2 s) when the server starts, before it
listens: a background thread would hold the GIL against the first
student's page and its static files. `effective.effective_field_of` looks results up here
before it runs anything: a hit returns exactly what the run would have (same function, same
seeded weights, same input), which tests check.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable

import numpy as np
import torch

from cnnviz import images, limits, registry, weights

# The page's defaults (pages/receptive_field.py): model, photo.
DEFAULT_MODEL = "resnet18"
DEFAULT_PHOTO = "Astronaut"
# The other models whose first view (the layer the page opens on, untrained) costs under
# about 0.5 s on one core, seeded weights and one backward pass: 1.9 s in all at start-up.
# A student switching models waited that long for it. Left out, 15 s more at start-up:
# the VGGs (0.8-1.7 s each: 130 M weights to draw), GoogLeNet (1.1 s, truncated-normal
# draws), ResNet-101/152 (0.8-0.9 s).
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
# resnet18's 67 layers at 224x224 take about 13 MB (one float32 map each), twice that with
# the pretrained ones; the cheap models' first views 2 MB more.
MAX_ENTRIES = 200

Key = tuple[str, bool, str, tuple[int, ...], str]

_results: dict[Key, np.ndarray] = {}
_lock = threading.Lock()


def fingerprint(image: torch.Tensor) -> str:
    """A digest of the input's values, shape and dtype (a few ms for 3x224x224)."""
    data = image.detach().contiguous().cpu()
    digest = hashlib.blake2b(data.numpy().tobytes(), digest_size=16)
    digest.update(f"{tuple(data.shape)}{data.dtype}".encode())
    return digest.hexdigest()


def key(name: str, pretrained: bool, layer: str, unit: tuple[int, ...], image: torch.Tensor) -> Key:
    return name, bool(pretrained), layer, tuple(int(u) for u in unit), fingerprint(image)


def lookup(k: Key) -> np.ndarray | None:
    """A copy of the stored field (callers may keep or change it), or None."""
    with _lock:
        found = _results.get(k)
    return None if found is None else found.copy()


def store(k: Key, erf: np.ndarray) -> None:
    with _lock:
        if len(_results) < MAX_ENTRIES:
            _results[k] = erf.copy()


def stored() -> int:
    with _lock:
        return len(_results)


def clear() -> None:
    with _lock:
        _results.clear()


def default_input(name: str) -> torch.Tensor:
    """What the page feeds `name` before anyone changes a setting: the default photo fitted to
    the model's default input (grayscale for one channel)."""
    c, h, w = registry.get(name).default_input
    return images.to_input(images.fit(images.photo(DEFAULT_PHOTO), h, w), c)


def compute(name: str, layers: Iterable[str] | None = None, *, pretrained: bool = False) -> int:
    """Store the centre unit's effective field of `layers` (default: the layer the page opens
    on) of `name` at its default input; the number stored. Runs on a model of its own (built
    like the shared one: the same seeded weights), so no student waits for a lock meanwhile."""
    from cnnviz.analysis import analyze
    from cnnviz.receptive_field.effective import effective_receptive_field
    from cnnviz.receptive_field.theoretical import receptive_fields_of, telling_layer

    arch = registry.get(name)
    size = limits.check_field_input(arch.default_input)
    fields = receptive_fields_of(name, size)
    # The page's limit check (OutOfBounds: the page would not run it either), cached for it.
    params = analyze(name, None if pretrained else size).total_params
    limits.FIELD_PARAMS.check(params, f"number of parameters of {name} at this input")
    chosen = list(layers) if layers is not None else [telling_layer(fields, size)]
    image = default_input(name)
    if pretrained:
        model = weights.load_pretrained(name)
    else:
        model = weights.untrained(name, size if arch.takes_input_size else None)
    done = 0
    for layer in chosen:
        rows, cols = fields[layer].grid
        unit = (rows // 2, cols // 2)
        k = key(name, pretrained, layer, unit, image)
        if lookup(k) is None:
            store(k, effective_receptive_field(model, layer, unit, image))
            done += 1
    return done


def plan() -> list[tuple[str, list[str] | None, bool]]:
    """(model, layers, pretrained): every layer of the default model, untrained, then
    pretrained where its weights are on disk; then the first view of each of CHEAP_MODELS
    (None: the layer the page opens on), untrained. The rest are left to the first student who
    opens them: their seeded weights alone take up to 1.7 s to draw (VGG-19) and as much
    memory again as the model (a model built here is dropped once its fields are stored)."""
    from cnnviz.receptive_field.theoretical import receptive_fields_of

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
