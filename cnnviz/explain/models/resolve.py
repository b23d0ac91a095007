"""A ModelSpec back to its network, once per process: the shared ones as they are, a fine-tuned
model this process holds as that very object, anything else built from its file once and kept
(least recently used out)."""

from __future__ import annotations

import threading
from collections import OrderedDict

from cnnviz import registry
from cnnviz.errors import (
    UnknownModel,
)
from cnnviz.explain.models.catalog import default, imagenet
from cnnviz.explain.models.explained import SOURCES, Explained, ModelSpec
from cnnviz.explain.models.from_file import _guard, _held, load_trained_file, trained, with_weights

BUILT_KEPT = 4  # models built from a file (or private torchvision ones) a process keeps


_built: OrderedDict[ModelSpec, Explained] = OrderedDict()


_building: dict[ModelSpec, threading.Lock] = {}


def resolve(spec: ModelSpec) -> Explained:
    """This process's model for `spec`, built at most once: the default LeNet-5 and the
    registry's torchvision models are the process's shared ones (shared_model); a fine-tuned
    model this process holds is that very object; anything else is built from the spec (its
    file read once) and kept, the BUILT_KEPT most recently used."""
    if spec.source not in SOURCES:
        raise UnknownModel(f"There is no model source {spec.source!r}.")
    if spec.source == "default":
        return default()
    if spec.source in ("imagenet", "untrained") and spec.name in registry.REGISTRY:
        return imagenet(spec.name, pretrained=spec.source == "imagenet", image_size=spec.image_size)
    if spec.source == "trained":
        with _guard:
            here = _held.get(spec)
        if here is not None:
            return trained(here)
    with _guard:
        lock = _building.setdefault(spec, threading.Lock())
    with lock:  # two jobs of one new model: the second waits for the first's copy
        with _guard:
            if spec in _built:
                _built.move_to_end(spec)
                return _built[spec]
        model = _build(spec)
        with _guard:
            _built[spec] = model
            while len(_built) > BUILT_KEPT:
                old, _ = _built.popitem(last=False)
                _building.pop(old, None)
    return model


def _build(spec: ModelSpec) -> Explained:
    if spec.source in ("imagenet", "untrained"):
        return imagenet(spec.name, pretrained=spec.source == "imagenet", image_size=spec.image_size)
    if spec.file is None:
        raise UnknownModel(f"The {spec.source} model {spec.name} names no file to load.")
    if spec.source == "weights":
        return with_weights(spec.name, spec.file, spec.image_size)
    return load_trained_file(spec.file)
