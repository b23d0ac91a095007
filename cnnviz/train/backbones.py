"""The transfer-learning backbones: torchvision models with a new linear head for N classes,
their weights (ImageNet from torchvision's cache, the synthetic backbone shipped in assets/,
seeded random, or a student's file), and the "blocks" a last-N fine-tune unfreezes.

A backbone keeps torchvision's own module names, and the new head replaces torchvision's last
Linear in place: the trained model's state dict is exactly that of
`torchvision.models.get_model(name, num_classes=N)`, so it loads without cnnviz, and the Explain
page finds its layers (`layer4`, `features.12`) under the names it knows.
"""

from __future__ import annotations

import copy
import functools
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
import torchvision
from torch import nn

from cnnviz import synthetic
from cnnviz import weights as tv_weights
from cnnviz.data import load_state_dict_file
from cnnviz.errors import (
    BadWeightsFile,
    CnnvizError,
    InputTooSmall,
    OutOfBounds,
    UnknownModel,
    WeightsMissing,
)

BACKBONES = ("resnet18", "mobilenet_v3_small", "efficientnet_b0", "alexnet", "vgg16")
STRATEGIES = ("linear", "last", "full")
# The weights a run can start from, besides a state-dict file's path.
WEIGHTS = ("imagenet", "synthetic", "none")


@dataclass(frozen=True)
class BackboneSpec:
    """Where a backbone's head sits, its blocks in input-to-output order, its smallest input."""

    name: str
    head: str  # dotted path of the last Linear (replaced by the new head)
    blocks: tuple[tuple[str, ...], ...]  # each block: the dotted paths of its modules
    min_side: int  # smallest square input every layer accepts


def _numbered(prefix: str, indices: range | list[int]) -> tuple[tuple[str, ...], ...]:
    return tuple((f"{prefix}.{i}",) for i in indices)


# torchvision's configuration D: the indices of VGG-16's 13 convs inside `features`.
_VGG16_CONVS = [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28]

SPECS: dict[str, BackboneSpec] = {
    # The stem (conv1 + bn1) counts as a block, so last_blocks=5 unfreezes every layer.
    "resnet18": BackboneSpec(
        "resnet18",
        "fc",
        (("conv1", "bn1"), ("layer1",), ("layer2",), ("layer3",), ("layer4",)),
        8,
    ),
    # 13 feature stages, then the 576 -> 1024 FC layer before the head.
    "mobilenet_v3_small": BackboneSpec(
        "mobilenet_v3_small",
        "classifier.3",
        (*_numbered("features", range(13)), ("classifier.0",)),
        8,
    ),
    "efficientnet_b0": BackboneSpec(
        "efficientnet_b0", "classifier.1", _numbered("features", range(9)), 8
    ),
    # One block per layer with weights: conv1-conv5, FC6, FC7 (the lecture's layer names).
    "alexnet": BackboneSpec(
        "alexnet",
        "classifier.6",
        (*_numbered("features", [0, 3, 6, 8, 10]), ("classifier.1",), ("classifier.4",)),
        63,
    ),
    "vgg16": BackboneSpec(
        "vgg16",
        "classifier.6",
        (*_numbered("features", _VGG16_CONVS), ("classifier.0",), ("classifier.3",)),
        32,
    ),
}


def spec(name: str) -> BackboneSpec:
    """The backbone `name`; UnknownModel for any other name. The one lookup by name: the CLI,
    the page and a saved model's file resolve a backbone here, and every other function of
    cnnviz.train takes the spec."""
    if name not in SPECS:
        raise UnknownModel(
            f"There is no backbone {name!r}: the backbones are {', '.join(BACKBONES)}.",
            f"Use one of {', '.join(BACKBONES)}.",
        )
    return SPECS[name]


def block_names(backbone: BackboneSpec) -> list[str]:
    """The blocks of `backbone` as a page lists them ("layer4", "features.12"), first to last."""
    return ["+".join(paths) for paths in backbone.blocks]


def check_strategy(strategy: str) -> str:
    if strategy not in STRATEGIES:
        raise OutOfBounds(
            f"There is no strategy {strategy!r}: the strategies are {', '.join(STRATEGIES)}.",
            "Use linear (linear probe), last (fine-tune the last blocks) or full.",
        )
    return strategy


def check_last_blocks(backbone: BackboneSpec, last_blocks: int) -> int:
    count = len(backbone.blocks)
    if last_blocks > count:
        raise OutOfBounds(
            f"{backbone.name} has {count} blocks: it cannot fine-tune the last {last_blocks}.",
            f"Use 1 to {count} blocks, or the full fine-tune.",
        )
    return last_blocks


def check_side(backbone: BackboneSpec, side: int) -> int:
    low = backbone.min_side
    if side < low:
        raise InputTooSmall(
            f"{backbone.name} needs images of at least {low}x{low} pixels; {side}x{side} is too "
            "small for its pooling layers.",
            f"Use an image size of {low} or more.",
        )
    return side


def _set_module(model: nn.Module, path: str, module: nn.Module) -> None:
    parent, _, child = path.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, child, module)


def head_of(model: nn.Module, backbone: BackboneSpec) -> nn.Linear:
    head = model.get_submodule(backbone.head)
    assert isinstance(head, nn.Linear)
    return head


def backbone_weights_status(backbone: BackboneSpec) -> tuple[bool, str]:
    """Whether `backbone`'s ImageNet weights are on disk, and one sentence a student
    understands: the file's name, or which file is missing, why, and what the teacher runs."""
    name = backbone.name
    file_name = tv_weights.weights_file(name).name
    if tv_weights.weights_available(name):
        return True, f"{name}'s ImageNet weights ({file_name}) are on this server."
    instead = (
        "the synthetic backbone or random weights" if synthetic.supports(name) else "random weights"
    )
    return False, (
        f"{name}'s ImageNet weights ({file_name}) are not on this server: the app never "
        "downloads during class, and nobody has fetched them yet. The teacher can run "
        f"`python -m cnnviz fetch-weights {name}` on a machine with internet; meanwhile, "
        f"train from {instead}."
    )


def default_weights(backbone: BackboneSpec) -> str:
    """What a run starts from unless told: ImageNet when its file is on disk, else the
    synthetic backbone where one ships for `backbone`, else random initialization."""
    name = backbone.name
    if tv_weights.weights_available(name):
        return "imagenet"
    if synthetic.available(name):
        return "synthetic"
    return "none"


def weights_file_mb(backbone: BackboneSpec) -> float:
    """The size of `backbone`'s ImageNet weights file in MB of 2**20 bytes (torchvision's
    metadata): what a full state dict of this backbone weighs, whatever its values."""
    return float(tv_weights.default_weights(backbone.name).meta["_file_size"])


def _pretrained(name: str) -> nn.Module:
    try:
        return tv_weights.load_pretrained(name)
    except WeightsMissing as err:
        raise WeightsMissing(
            str(err),
            f"Run `python -m cnnviz fetch-weights {name}` on a machine with internet, or "
            "start from other weights (--weights synthetic for resnet18, --weights none).",
        ) from None


def synthetic_state_check(backbone: BackboneSpec) -> None:
    """UnknownModel unless the synthetic backbone ships for `backbone`."""
    if not synthetic.supports(backbone.name):
        raise UnknownModel(
            f"The synthetic backbone is a {synthetic.BACKBONE}; there is none for {backbone.name}.",
            f"Pick {synthetic.BACKBONE}, or ImageNet or random weights for {backbone.name}.",
        )


def synthetic_state(backbone: BackboneSpec) -> Mapping[str, torch.Tensor]:
    """The synthetic backbone's weights (WeightsMissing when the asset is absent), read once
    per process while the file stays the same: a run copies them into its own model, or (a
    linear probe, which changes only its head) holds them as they are, so the tensors
    returned must never be changed in place."""
    synthetic_state_check(backbone)
    path = synthetic.WEIGHTS_PATH
    try:
        st = path.stat()
    except OSError:
        return synthetic.load_state()  # WeightsMissing, in the student's words
    return _synthetic_state(str(path), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=1)
def _synthetic_state(path: str, size: int, mtime_ns: int) -> Mapping[str, torch.Tensor]:
    return synthetic.load_state(Path(path))


def shared_body(
    backbone: BackboneSpec, weights: str, state: Mapping[str, torch.Tensor]
) -> list[str]:
    """The names of `state`'s tensors that are this process's shared copy of the synthetic
    backbone itself (what a linear probe's model holds: build(..., frozen_body=True)), not
    copies of it; [] for any other weights."""
    if weights != "synthetic":
        return []
    try:
        shared = synthetic_state(backbone)
    except CnnvizError:  # none for this backbone, or the asset is missing
        return []
    return [k for k, v in state.items() if k in shared and _same_tensor(v, shared[k])]


def _same_tensor(a: torch.Tensor, b: torch.Tensor) -> bool:
    return (
        a.device == b.device
        and a.data_ptr() == b.data_ptr()
        and a.dtype == b.dtype
        and a.shape == b.shape
        and a.stride() == b.stride()
    )


def synthetic_body(backbone: BackboneSpec, identity: str) -> Mapping[str, torch.Tensor]:
    """This process's shared copy of the synthetic backbone, when it is the file whose
    weights_identity is `identity` (a result pickled where the probe ran names its body so);
    BadWeightsFile when this machine holds another file, WeightsMissing when none."""
    state = synthetic_state(backbone)
    if weights_identity(backbone, "synthetic") != identity:
        raise BadWeightsFile(
            "This run's model was trained on another synthetic backbone than the one this "
            "server holds (assets/resnet18_synthetic.pt differs between the machines).",
            "Give every machine of the class's Ray cluster the same checkout, then train again.",
        )
    return state


def _architecture(name: str) -> nn.Module:
    return torchvision.models.get_model(name, weights=None)


@functools.lru_cache(maxsize=len(BACKBONES))
def _meta_template(name: str) -> nn.Module:
    """The architecture on the meta device (shapes, no memory), built once per process: its
    random initialization runs through Python even on the meta device."""
    with torch.device("meta"):
        return _architecture(name)


def _meta_architecture(name: str) -> nn.Module:
    """A fresh copy of the meta architecture, free to change."""
    return copy.deepcopy(_meta_template(name))


def check_fits(backbone: BackboneSpec, state: Mapping[str, torch.Tensor]) -> None:
    """BadWeightsFile unless `state` holds every tensor of `backbone` but the head's (which the
    new classes replace), each with its shape. Checked against the backbone built on the meta
    device: shapes without memory for the weights, so a page can check a file the moment it
    arrives."""
    _check_fits(backbone, _meta_template(backbone.name), state)


def _check_fits(
    backbone: BackboneSpec, model: nn.Module, state: Mapping[str, torch.Tensor]
) -> None:
    name = backbone.name
    head = backbone.head + "."
    own = model.state_dict()
    needed = {k: v.shape for k, v in own.items() if not k.startswith(head)}
    missing = [k for k in needed if k not in state]
    wrong = [k for k in needed if k in state and state[k].shape != needed[k]]
    if missing or wrong:
        first = (missing or wrong)[0]
        raise BadWeightsFile(
            f"This weights file does not fit {name}: {len(missing)} of its {len(needed)} "
            f"tensors are missing and {len(wrong)} have another shape (first: {first!r}).",
            f"Upload a state dict saved from torchvision's {name}, or pick the backbone it "
            "was saved from.",
        )


def check_weights_file(backbone: BackboneSpec, path: str | os.PathLike[str]) -> None:
    """BadWeightsFile unless the file at `path` is a state dict that `build(backbone, path,
    ...)` loads: the page checks an upload with it, the CLI a --weights FILE, before any
    training. A zip archive's tensors are memory-mapped, not read: names and shapes are all it
    needs."""
    check_fits(backbone, load_state_dict_file(path, mmap=True))


def _from_state(
    backbone: BackboneSpec, state: Mapping[str, torch.Tensor], *, share: bool = False
) -> nn.Module:
    """The architecture holding a state dict's tensors in every layer but the head (check_fits
    says why not), built on the meta device and given memory only to receive them: no time
    spent drawing random weights the file then overwrites. The head is left without values:
    build replaces it. (Every tensor of the backbones is in their state dicts: no buffer is
    left uninitialized.)

    share: the model's tensors are `state`'s own, not copies: for a body that nothing changes
    (a linear probe's frozen layers in eval mode), so a class's probes hold one body between
    them. Otherwise the model gets its own copy and `state` is never written."""
    model = _meta_architecture(backbone.name)
    _check_fits(backbone, model, state)
    head = backbone.head + "."
    keep = {k: state[k] for k in model.state_dict() if not k.startswith(head)}
    if share:
        model.load_state_dict(keep, strict=False, assign=True)
    else:
        model.to_empty(device="cpu")
        model.load_state_dict(keep, strict=False)
    return model


def _fresh_batch_norm(model: nn.Module) -> None:
    """Batch norm momentum 0.1 (PyTorch's default) for a network trained from scratch.

    MobileNetV3 and EfficientNet use 0.01, tuned for long ImageNet runs: over a classroom run
    of a few dozen steps their running statistics stay near their initial values while the
    weights move, so validation (eval mode) sits at chance however well training goes.
    """
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.momentum = max(module.momentum or 0.1, 0.1)


def weights_identity(backbone: BackboneSpec, weights: str, seed: int = 0) -> str:
    """What decides the values `build(backbone, weights, ..., seed)` gives every layer but the
    head, as one string: torchvision's weights entry and URL (its file name carries its hash),
    the SHA-256 of a file (the synthetic backbone's, a student's), or the seed of a random
    initialization. Part of a feature-cache key (cnnviz.train.features)."""
    from cnnviz.store import file_sha256

    if weights == "imagenet":
        entry = tv_weights.default_weights(backbone.name)
        return f"torchvision:{entry}:{entry.url}"
    if weights == "none":
        return f"random:{backbone.name}:seed={seed}"
    path = synthetic.WEIGHTS_PATH if weights == "synthetic" else weights
    try:
        return f"sha256:{file_sha256(path)}"
    except OSError:
        # No file to hash: build raises the student's error for it (WeightsMissing,
        # BadWeightsFile); a key nothing else has meanwhile.
        return f"missing:{weights}"


_SEEDED = threading.Lock()


def build(
    backbone: BackboneSpec,
    weights: str,
    n_classes: int,
    seed: int = 0,
    *,
    frozen_body: bool = False,
) -> nn.Module:
    """torchvision's `backbone` with `weights` ("imagenet": from the cache, WeightsMissing if
    absent; "synthetic": the backbone pretrained on fractals, from assets/; "none": random;
    else a path to a state-dict file) and a new seeded head for `n_classes`, in train mode
    with every parameter trainable. The head's initial values depend on the seed alone, not
    on the weights below it.

    frozen_body: the caller never changes any tensor but the head's (a linear probe): the
    synthetic backbone's body is then the process's one copy of it, shared, not copied."""
    # torch's global generator is the process's, not the thread's: two jobs building at once
    # (a run and the page's estimate probe) would draw from each other's seed.
    with _SEEDED, torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if weights == "imagenet":
            model = _pretrained(backbone.name)
        elif weights == "none":
            model = _architecture(backbone.name)
            _fresh_batch_norm(model)
        elif weights == "synthetic":
            model = _from_state(backbone, synthetic_state(backbone), share=frozen_body)
        else:
            model = _from_state(backbone, load_state_dict_file(weights))
        torch.manual_seed(seed)
        old = head_of(model, backbone)
        _set_module(model, backbone.head, nn.Linear(old.in_features, n_classes))
    model.train()
    model.requires_grad_(True)
    return model


def empty(backbone: BackboneSpec, n_classes: int) -> nn.Module:
    """The architecture of a trained model with n_classes outputs, on the meta device: no
    time spent on a random initialization that a state dict then overwrites."""
    with torch.device("meta"):
        return torchvision.models.get_model(backbone.name, weights=None, num_classes=n_classes)


def trainable_blocks(backbone: BackboneSpec, strategy: str, last_blocks: int) -> list[str]:
    """The module paths a strategy trains besides the head."""
    if strategy == "linear":
        return []
    if strategy == "full":
        return [""]  # the whole model
    return [path for block in backbone.blocks[-last_blocks:] for path in block]


def freeze(model: nn.Module, backbone: BackboneSpec, strategy: str, last_blocks: int = 1) -> None:
    """requires_grad as the strategy says: the head always, the last blocks for "last",
    everything for "full"."""
    model.requires_grad_(False)
    for path in trainable_blocks(backbone, strategy, last_blocks):
        model.get_submodule(path).requires_grad_(True)
    head_of(model, backbone).requires_grad_(True)


def train_mode(model: nn.Module, backbone: BackboneSpec) -> None:
    """Train mode, except the frozen blocks: a frozen block computes what it computed before
    (its batch norms keep ImageNet's running statistics, its stochastic depth and dropout
    stay off), so only the layers that learn see the training-time noise."""
    model.train()
    for block in backbone.blocks:
        modules = [model.get_submodule(path) for path in block]
        if not any(p.requires_grad for m in modules for p in m.parameters()):
            for m in modules:
                m.eval()


def head_parameters(model: nn.Module, backbone: BackboneSpec) -> list[nn.Parameter]:
    return list(head_of(model, backbone).parameters())


def count_parameters(model: nn.Module) -> tuple[int, int]:
    """(trainable, total) parameter counts."""
    params = list(model.parameters())
    return sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params)
