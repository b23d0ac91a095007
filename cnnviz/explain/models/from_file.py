"""The networks Explain reads from a file: a session's fine-tuned model (written once to the
store's files/ for a job elsewhere, named by its content) and a state dict for a known
architecture (CLI --weights), checked tensor by tensor."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import threading
import uuid
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
import torchvision
from torch import nn

from cnnviz import registry, shared_model
from cnnviz.errors import (
    CnnvizError,
    DoesNotFit,
    UnknownModel,
)
from cnnviz.explain import default_model
from cnnviz.explain.models.catalog import (
    _check_default_size,
    _imagenet_weights,
    _title,
    _transform,
    default,
    weights_names,
)
from cnnviz.explain.models.explained import (
    DEFAULT,
    Explained,
    ModelSpec,
    TrainedLike,
    _own_borrow,
    _private,
)
from cnnviz.store.disk import STORE_ENV as STORE_FOLDER_ENV
from cnnviz.store.files import store_file

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
