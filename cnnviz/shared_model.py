"""One policy for everything that runs real weights (the effective receptive field now; captum
and the filter views next): one model per process, borrowed under a lock, handed back exactly
as found, never copied per click.

    with borrow("vgg16", pretrained=True) as model:
        ...  # hooks, eval(), requires_grad_(False): all undone on the way out

A model is kept per (name, pretrained) (an untrained model whose builder sizes itself by the
input, such as the lecture's AlexNet, also per input size), least recently used first out once
the kept models hold more than `SHARED_PARAMS` parameters. Its lock makes borrowers of
the same model take turns; different models run side by side. On the way out `as_found`
restores what an operation may change: every hook dict of every module and tensor, the
train/eval mode of every module, the parameter and buffer objects, requires_grad flags and
gradients. Weights changed in place cannot be put back cheaply: that is caught by PyTorch's
version counters (every in-place operation counts, under no_grad too; only writes through
`.data` go unseen, so operations never use it), the model is dropped from the cache (the
next borrower gets a fresh one) and ModelChanged is raised.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from cnnviz import model_limits, registry, weights

# The shared models hold at most this many parameters together: 1.2 GB.
SHARED_PARAMS = 300_000_000

Key = tuple[str, bool, tuple[int, int, int] | None]

# Every per-module dict of hooks torch keeps (forward, pre-forward, backward, state dict...).
MODULE_HOOKS = (
    "_forward_hooks",
    "_forward_hooks_with_kwargs",
    "_forward_hooks_always_called",
    "_forward_pre_hooks",
    "_forward_pre_hooks_with_kwargs",
    "_backward_hooks",
    "_backward_pre_hooks",
    "_state_dict_hooks",
    "_state_dict_pre_hooks",
    "_load_state_dict_pre_hooks",
    "_load_state_dict_post_hooks",
)
TENSOR_HOOKS = ("_backward_hooks", "_post_accumulate_grad_hooks")


class ModelChanged(RuntimeError):
    """An operation changed a shared model's weights in place (a bug in that operation)."""


@dataclass
class _Snapshot:
    """What an operation on a model may change, taken before it runs."""

    modes: dict[nn.Module, bool]
    module_state: dict[nn.Module, dict[str, Any]]
    tensors: list[tuple[torch.Tensor, bool, Any, int, int | None, dict[str, Any]]]

    @classmethod
    def take(cls, model: nn.Module) -> _Snapshot:
        modules = list(model.modules())
        state = {
            m: {
                **{a: dict(getattr(m, a)) for a in MODULE_HOOKS if hasattr(m, a)},
                "_parameters": dict(m._parameters),
                "_buffers": dict(m._buffers),
                "_is_full_backward_hook": getattr(m, "_is_full_backward_hook", None),
            }
            for m in modules
        }
        tensors = []
        for t in _tensors(model):
            hooks = {a: _copy(getattr(t, a, None)) for a in TENSOR_HOOKS}
            grad = t.grad
            version = grad._version if grad is not None else None
            tensors.append((t, t.requires_grad, grad, t._version, version, hooks))
        return cls({m: m.training for m in modules}, state, tensors)

    def restore(self, model: nn.Module) -> list[str]:
        """Put everything back; the names of tensors whose values changed in place."""
        for m, saved in self.module_state.items():
            for attr, value in saved.items():
                current = getattr(m, attr, None)
                if isinstance(value, dict) and isinstance(current, dict):
                    current.clear()
                    current.update(value)
                elif attr == "_is_full_backward_hook":
                    m._is_full_backward_hook = value
        for m, training in self.modes.items():
            m.training = training
        changed = []
        for t, requires_grad, grad, version, grad_version, hooks in self.tensors:
            for attr, value in hooks.items():
                if hasattr(t, attr):
                    setattr(t, attr, _copy(value))
            if t.requires_grad != requires_grad and t.is_leaf:
                t.requires_grad_(requires_grad)
            if t.grad is not grad:
                t.grad = grad
            grad_changed = grad is not None and grad._version != grad_version
            if t._version != version or grad_changed:
                changed.append(_name_of(model, t))
        return changed


def _tensors(model: nn.Module) -> Iterator[torch.Tensor]:
    seen: set[int] = set()
    for t in (*model.parameters(), *model.buffers()):
        if id(t) not in seen:
            seen.add(id(t))
            yield t


def _copy(value: Any) -> Any:
    return OrderedDict(value) if isinstance(value, dict) else value


def _name_of(model: nn.Module, t: torch.Tensor) -> str:
    named = (*model.named_parameters(), *model.named_buffers())
    return next((n for n, v in named if v is t), "a tensor")


@contextmanager
def as_found(model: nn.Module) -> Iterator[nn.Module]:
    """Run something on `model` and leave it exactly as found (see the module docstring).

    ModelChanged, after everything else is restored, if weights were changed in place.
    """
    snapshot = _Snapshot.take(model)
    try:
        yield model
    finally:
        changed = snapshot.restore(model)
    if changed:
        raise ModelChanged(f"an operation changed {', '.join(changed[:3])} in place")


@dataclass
class _Entry:
    lock: threading.Lock = field(default_factory=threading.Lock)
    model: nn.Module | None = None
    params: int = 0


_entries: OrderedDict[Key, _Entry] = OrderedDict()
_guard = threading.Lock()  # guards _entries only; never held while a model builds or runs


def key(
    arch: registry.Architecture, pretrained: bool, input_size: tuple[int, ...] | None = None
) -> Key:
    """The cache key: input size only for untrained models that size themselves by it."""
    size = None
    if not pretrained and arch.takes_input_size:
        size = model_limits.check_input(tuple(input_size or arch.default_input))
    return arch.name, bool(pretrained), size


def _load(arch: registry.Architecture, k: Key) -> nn.Module:
    _, pretrained, size = k
    if pretrained:
        return weights.load_pretrained(arch.name)
    return weights.untrained(arch, size)


def _evict(keep: Key) -> None:
    """Drop least recently used models until the kept ones fit in SHARED_PARAMS."""
    with _guard:
        loaded = [(k, e) for k, e in _entries.items() if e.model is not None]
        total = sum(e.params for _, e in loaded)
        for k, e in loaded:
            if total <= SHARED_PARAMS:
                break
            if k != keep:
                _entries.pop(k, None)
                total -= e.params


def _drop(k: Key, entry: _Entry) -> None:
    with _guard:
        if _entries.get(k) is entry:
            del _entries[k]


@contextmanager
def borrow(
    which: str | registry.Architecture,
    *,
    pretrained: bool = False,
    input_size: tuple[int, ...] | None = None,
) -> Iterator[nn.Module]:
    """The process's one model `which` (torchvision's weights if `pretrained`, else seeded
    untrained ones, in eval mode), for this thread alone until the block ends; then as found.
    `which`: the architecture a caller has looked up already, or a registered name (looked up
    here, once).

    WeightsMissing / NoPretrainedWeights where pretrained weights are not available.
    """
    arch = registry.get(which) if isinstance(which, str) else which
    name = arch.name
    k = key(arch, pretrained, input_size)
    with _guard:
        entry = _entries.setdefault(k, _Entry())
        _entries.move_to_end(k)
    with entry.lock:
        if entry.model is None:
            entry.model = _load(arch, k)
            entry.params = sum(p.numel() for p in entry.model.parameters())
            _evict(keep=k)
        model = entry.model
        snapshot = _Snapshot.take(model)
        try:
            yield model
        finally:
            changed = snapshot.restore(model)
            if changed:
                _drop(k, entry)
        if changed:
            raise ModelChanged(f"an operation changed {', '.join(changed[:3])} of {name} in place")


def cached() -> list[Key]:
    """The keys of the models kept now, least recently used first."""
    with _guard:
        return [k for k, e in _entries.items() if e.model is not None]


def clear() -> None:
    """Forget every kept model (tests; a borrower keeps its own until it hands it back)."""
    with _guard:
        _entries.clear()
