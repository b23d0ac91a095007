"""The shared-model policy, in the spirit of captum's tests/attr/test_hook_removal.py: every
operation that runs real weights runs normally and failing, and the model is left as found."""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable

import pytest
import torch
from torch import nn

from cnnviz import shared_model
from cnnviz.errors import OutOfBounds, UnknownLayer
from cnnviz.receptive_field.effective import effective_field_of, effective_receptive_field
from cnnviz.shared_model import MODULE_HOOKS, ModelChanged, as_found, borrow


@pytest.fixture(autouse=True)
def fresh_cache():
    shared_model.clear()
    yield
    shared_model.clear()


def state_of(model: nn.Module) -> dict:
    """Everything 'as found' means, comparable with ==, values copied."""
    return {
        "hooks": {
            (n, a): list(getattr(m, a))
            for n, m in model.named_modules()
            for a in MODULE_HOOKS
            if hasattr(m, a)
        },
        "tensor_hooks": [
            (n, dict(p._backward_hooks or {}), dict(p._post_accumulate_grad_hooks or {}))
            for n, p in model.named_parameters()
        ],
        "modes": [(n, m.training) for n, m in model.named_modules()],
        "flags": [(n, p.requires_grad) for n, p in model.named_parameters()],
        "grads": [(n, p.grad is None) for n, p in model.named_parameters()],
    }


def same_weights(model: nn.Module, saved: dict[str, torch.Tensor]) -> bool:
    now = model.state_dict()
    return now.keys() == saved.keys() and all(torch.equal(now[k], saved[k]) for k in saved)


class Boom(Exception):
    """Raised in the middle of an operation."""


def fail_in(model: nn.Module, layer: str) -> torch.utils.hooks.RemovableHandle:
    def boom(*_args) -> None:
        raise Boom

    return model.get_submodule(layer).register_forward_pre_hook(boom)


IMAGE = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))

# name -> an operation on a shared model; each must leave it as found.
OPERATIONS: dict[str, Callable[[nn.Module], object]] = {
    "effective field of a unit": lambda m: effective_receptive_field(m, "layer2", (3, 4), IMAGE),
    "effective field of one channel": lambda m: effective_receptive_field(
        m, "layer1.0.conv1", (5, 10, 10), IMAGE
    ),
    "effective field of a global layer": lambda m: effective_receptive_field(
        m, "fc", (0, 0), IMAGE
    ),
}


@pytest.mark.parametrize("operation", OPERATIONS, ids=list(OPERATIONS))
@pytest.mark.parametrize("failing", [False, True], ids=["normal", "failing"])
def test_operations_leave_the_shared_model_as_found(operation: str, failing: bool) -> None:
    with borrow("resnet18") as model:
        model.train()  # a mode that differs from what the operation sets, to see it come back
        model.layer1.requires_grad_(False)
        before, weights = state_of(model), copy.deepcopy(model.state_dict())
        failure = fail_in(model, "layer1.0.conv1") if failing else None
        if failing:
            with pytest.raises(Boom):
                OPERATIONS[operation](model)
            failure.remove()
        else:
            OPERATIONS[operation](model)
        assert state_of(model) == before
        assert same_weights(model, weights)
    # Handed back: as the cache keeps it (eval mode, no hooks, every flag as built).
    with borrow("resnet18") as again:
        assert again is model
        assert not any(getattr(m, a) for m in again.modules() for a in MODULE_HOOKS)
        assert not any(m.training for m in again.modules())
        assert all(p.requires_grad and p.grad is None for p in again.parameters())


def test_refused_requests_leave_it_as_found_too() -> None:
    with borrow("lenet5") as model:
        before, weights = state_of(model), copy.deepcopy(model.state_dict())
        image = torch.zeros(1, 1, 32, 32)
        with pytest.raises(OutOfBounds, match="outside the 28x28"):
            effective_receptive_field(model, "c1", (28, 0), image)
        with pytest.raises(OutOfBounds, match="only unit is"):
            effective_receptive_field(model, "f6", (1, 0), image)
        with pytest.raises(UnknownLayer):
            effective_receptive_field(model, "c9", (0, 0), image)
        assert state_of(model) == before and same_weights(model, weights)


def test_anything_done_in_a_borrow_is_undone() -> None:
    with borrow("lenet5") as model:
        weights = copy.deepcopy(model.state_dict())
    with pytest.raises(Boom), borrow("lenet5") as model:
        model.train().requires_grad_(False)
        model.c1.register_forward_hook(lambda *a: None)
        model.c1.register_full_backward_hook(lambda *a: None)
        model.c3.register_forward_pre_hook(lambda *a: None, with_kwargs=True)
        model.c1.weight.requires_grad_(True).register_hook(lambda g: g)
        model(torch.randn(1, 1, 32, 32, requires_grad=True)).sum().backward()  # c1.weight.grad
        raise Boom
    with borrow("lenet5") as again:
        assert again is model
        assert not any(getattr(m, a) for m in model.modules() for a in MODULE_HOOKS)
        assert not model.c1.weight._backward_hooks
        assert not any(m.training for m in model.modules())
        assert all(p.requires_grad and p.grad is None for p in model.parameters())
        assert same_weights(model, weights)


def test_weights_changed_in_place_are_caught_and_the_model_replaced() -> None:
    with borrow("lenet5") as model:
        weights = copy.deepcopy(model.state_dict())
    with pytest.raises(ModelChanged, match=r"c1\.weight"), borrow("lenet5") as model:
        model.c1.weight.requires_grad_(False).mul_(2)  # in place (what PyTorch counts)
    with borrow("lenet5") as fresh:
        assert fresh is not model and same_weights(fresh, weights)
    # as_found on a model of one's own says the same
    mine = nn.Linear(2, 2)
    with pytest.raises(ModelChanged), as_found(mine), torch.no_grad():
        mine.bias.zero_()


def test_one_model_per_key_never_a_copy(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_copies(*_args, **_kwargs):
        raise AssertionError("a model was copied")

    monkeypatch.setattr(copy, "deepcopy", no_copies)
    image = torch.randn(1, 3, 64, 64)
    first = effective_field_of("resnet18", "layer1", (2, 2), image)
    second = effective_field_of("resnet18", "layer1", (2, 2), image)
    assert (first == second).all()
    assert shared_model.cached() == [("resnet18", False, None)]
    # The lecture's AlexNet sizes its FC6 by the input: one model per input size.
    effective_field_of("alexnet_lecture", "conv1", (0, 0), torch.randn(1, 3, 227, 227))
    assert ("alexnet_lecture", False, (3, 227, 227)) in shared_model.cached()


def test_the_kept_models_stay_within_the_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shared_model, "SHARED_PARAMS", 1_000_000)  # lenet5 fits, resnet18 does not
    with borrow("lenet5"):
        pass
    with borrow("resnet18"):
        pass
    assert shared_model.cached() == [("resnet18", False, None)]


def test_borrowers_of_one_model_take_turns() -> None:
    events: list[str] = []
    inside = threading.Event()

    def second() -> None:
        inside.wait()
        with borrow("lenet5"):
            events.append("second in")

    thread = threading.Thread(target=second)
    thread.start()
    with borrow("lenet5"):
        events.append("first in")
        inside.set()
        thread.join(timeout=0.5)  # the second borrower waits on the lock meanwhile
        events.append("first out")
    thread.join()
    assert events == ["first in", "first out", "second in"]


def test_effective_field_refuses_what_would_cost_too_much() -> None:
    with pytest.raises(OutOfBounds, match="input height is 600"):
        effective_field_of("vgg16", "features.0", (0, 0), torch.zeros(1, 3, 600, 224))
    with pytest.raises(OutOfBounds, match="values"):
        effective_field_of("inception_naive", "branch1x1", (0, 0), torch.zeros(1, 256, 100, 100))
    # The lecture's AlexNet at 512x512: FC6 alone holds 256*14*14*4096 weights.
    with pytest.raises(OutOfBounds, match="parameters of alexnet_lecture"):
        effective_field_of("alexnet_lecture", "conv1", (0, 0), torch.zeros(1, 3, 512, 512))
    assert shared_model.cached() == []  # refused before anything was built
