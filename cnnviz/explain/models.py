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

A job never receives the model itself: it receives its `ModelSpec` (`Explained.spec()`: source,
name, weights, file; it pickles, so a job may run in another process) and calls `resolve`
once, which gives back this process's one copy of that model: the shared_model registry's, the
default LeNet-5's, a fine-tuned model this process already holds, or one built from the spec's
file and kept (least recently used out) so that a worker builds each model once, never per job.
A fine-tuned model is written once to the store's files (`files/` in CNNVIZ_STORE's folder,
cnnviz.store), named by its content hash, where another process on the machine (or a cluster
sharing the folder) reads it.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import threading
import uuid
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
import torchvision
from torch import nn

from cnnviz import registry, shared_model, weights
from cnnviz.errors import (
    CnnvizError,
    DoesNotFit,
    NotAnImage,
    OutOfBounds,
    UnknownModel,
    WeightsMissing,
)
from cnnviz.explain import default_model
from cnnviz.explain import limits as explain_limits
from cnnviz.store.disk import STORE_ENV as STORE_FOLDER_ENV
from cnnviz.store.files import store_file

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


# --- torchvision ImageNet models ------------------------------------------------------------
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


# --- a session's fine-tuned model (cnnviz.train) --------------------------------------------
_trained_locks: weakref.WeakKeyDictionary[nn.Module, threading.Lock] = weakref.WeakKeyDictionary()
_trained_keys: weakref.WeakKeyDictionary[nn.Module, str] = weakref.WeakKeyDictionary()
_trained_specs: weakref.WeakKeyDictionary[nn.Module, ModelSpec] = weakref.WeakKeyDictionary()
# The fine-tuned models this process holds, by spec: `resolve` hands out the very same network
# (and lock) rather than reading its file again. Weak: a session that lets go frees it.
_held: weakref.WeakValueDictionary[ModelSpec, TrainedLike] = weakref.WeakValueDictionary()
_guard = threading.Lock()

STORE_ENV = STORE_FOLDER_ENV  # the store's folder (cnnviz.store): files/ beside its objects


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

    def spec() -> ModelSpec:
        with _guard:
            known = _trained_specs.get(net)
        if known is None:
            with lock:  # the weights as they are, not while a borrower works on them
                known = _store_trained(model)
            with _guard:
                known = _trained_specs.setdefault(net, known)
                with contextlib.suppress(TypeError):  # an object without weak references
                    _held[known] = model
        return known

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
        _spec=spec,
    )


def _store_trained(model: TrainedLike) -> ModelSpec:
    """Write the model in save_trained's format to the store, named by its content hash
    (once: the same weights, the same file), and name it by that file."""
    from cnnviz.train.export import FORMAT  # the transfer-learning library: only here

    document = {
        "format": FORMAT,
        "backbone": model.backbone,
        "classes": list(model.classes),
        "preprocessing": {
            "image_size": int(model.image_size),
            "mean": [float(v) for v in getattr(model, "mean", [])],
            "std": [float(v) for v in getattr(model, "std", [])],
        },
        "state_dict": model.model.state_dict(),
    }
    for about in ("strategy", "weights", "val_accuracy"):
        if getattr(model, about, None) is not None:
            document[about] = getattr(model, about)
    buffer = io.BytesIO()
    torch.save(document, buffer)
    digest, path = store_file("trained", ".pt", buffer.getvalue())
    return ModelSpec("trained", model.backbone, digest, str(path), int(model.image_size))


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
    """`name` with the state dict in the file `path`, preprocessed as the ImageNet weights
    expect (or as the default model, for LeNet-5 digits weights; a file written by
    `python -m cnnviz.explain.default_model` brings its own classes and preprocessing).

    The file is refused before it is read when it is missing or over
    data_limits.WEIGHTS_FILE_BYTES (BadWeightsFile), and when its tensors are not `name`'s
    (DoesNotFit, saying how many are missing or have another shape).
    """
    from cnnviz.data import load_state_dict_file

    if name not in weights_names():
        raise UnknownModel(
            f"There is no model {name!r} to load weights into.",
            f"Use one of: {', '.join(weights_names())}.",
        )
    file = Path(path).name
    if name == DEFAULT:
        _check_default_size(image_size)
    state = load_state_dict_file(path)  # size checked first, then torch.load(weights_only)
    if name == DEFAULT:
        net = default_model.build()
        _fit(net, state, DEFAULT, file)
        doc = default_model.load_document(path)  # a small file: it held LeNet-5's tensors
        base = default()
        classes, prep = list(base.classes), base._preprocess
        if isinstance(doc.get("preprocessing"), dict) and len(doc.get("classes", ())) == 10:
            p = doc["preprocessing"]
            prep = default_model.Preprocessing(int(p["image_size"]), p["mean"], p["std"])
            classes = [str(c) for c in doc["classes"]]
        title = f"LeNet-5 (digits, weights from {file})"
        spec = _weights_spec(name, path, image_size)
        return _private(base, net.eval(), classes, prep, f"{DEFAULT}:{path}", title, spec=spec)
    w = _imagenet_weights(name)
    side, transform = _transform(w, image_size)
    with torch.device("meta"):  # shapes only: the file's tensors become the weights
        net = (
            registry.build(name, input_size=(3, side, side))
            if name in registry.REGISTRY
            else torchvision.models.get_model(name, weights=None)
        )
    _fit(net, state, name, file)
    return Explained(
        key=f"{name}:{path}",
        title=f"{_title(name)} (weights from {file})",
        classes=tuple(w.meta["categories"]),
        channels=3,
        image_size=side,
        fixed_size=False,
        source="imagenet",  # preprocessed as the ImageNet weights are
        _preprocess=transform,
        _borrow=_own_borrow(net.eval()),
        _spec=_weights_spec(name, path, image_size),
    )


def _weights_spec(name: str, path: str | Path, image_size: int | None) -> Callable[[], ModelSpec]:
    """A state-dict file by its path and content hash, worked out on first use (the CLI,
    which runs no job, never reads the file a second time)."""
    full = Path(path).resolve()

    @functools.cache
    def spec() -> ModelSpec:
        digest = hashlib.sha256(full.read_bytes()).hexdigest()[:16]
        return ModelSpec("weights", name, digest, str(full), image_size)

    return spec


# torchvision's GoogLeNet checkpoint holds its two auxiliary heads; the app's googlenet has none.
_IGNORED_PREFIXES = {"googlenet": ("aux1.", "aux2.")}


def _fit(net: nn.Module, state: dict[str, torch.Tensor], name: str, file: str) -> None:
    """Load `state` into `net` (on the meta device or not) when every tensor matches by name
    and shape; DoesNotFit, counting what does not, otherwise."""
    skip = _IGNORED_PREFIXES.get(name, ())
    state = {k: v for k, v in state.items() if not k.startswith(skip)} if skip else state
    expected = net.state_dict()
    missing = [k for k in expected if k not in state]
    wrong = [k for k in expected if k in state and state[k].shape != expected[k].shape]
    foreign = [k for k in state if k not in expected]
    if missing or wrong or foreign:
        first = (wrong or missing or foreign)[0]
        if wrong:
            theirs, ours = (_shape(state[first]), _shape(expected[first]))
            first = f"first: {first!r}, {theirs} in the file, {ours} in {name}"
        else:
            first = f"first: {first!r}"
        raise DoesNotFit(
            f"The weights file {file} does not fit {name}: of its {len(expected)} tensors, "
            f"{len(missing)} are missing and {len(wrong)} have another shape, and the file "
            f"holds {len(foreign)} that are not {name}'s ({first}).",
            f"Give a state dict saved from {name} (torch.save(model.state_dict(), FILE)), or "
            "the --model it was saved from; a model saved by finetune --out goes with --trained.",
        )
    same_type = {k: v.to(dtype=expected[k].dtype) for k, v in state.items()}
    net.load_state_dict(same_type, strict=True, assign=True)


def _shape(t: torch.Tensor) -> str:
    return "x".join(map(str, t.shape)) or "a scalar"


def _check_default_size(image_size: int | None) -> None:
    side = default_model.SIDE
    if image_size not in (None, side):
        raise DoesNotFit(
            f"LeNet-5 (digits) takes {side}x{side} images only (its fully connected layers "
            f"are sized for them), not {image_size}.",
            f"Leave out --image-size, or give {side}.",
        )


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


# --- a spec back to its model, once per process ----------------------------------------------
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


def predict(model: Explained, x: torch.Tensor, top: int = 5) -> list[tuple[int, str, float]]:
    """The top classes for the preprocessed input x: (index, name, probability)."""
    with model.borrow() as net, torch.no_grad():
        probs = torch.softmax(net(x), dim=1)[0]
    values, indices = probs.topk(min(top, probs.numel()))
    return [(int(i), model.classes[int(i)], float(v)) for v, i in zip(values, indices, strict=True)]
