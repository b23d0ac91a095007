"""One registry of named architectures: every page, test and CLI command builds models here."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from cnnviz import model_limits
from cnnviz.errors import InputTooSmall, UnknownModel
from cnnviz.notation import hwc

Shape = tuple[int, int, int]


__all__ = [
    "Architecture",
    "InputTooSmall",
    "UnknownModel",
    "build",
    "build_meta",
    "cache_key",
    "get",
    "names",
]


@dataclass(frozen=True)
class Architecture:
    """A registered builder and what the app needs to know about it."""

    name: str
    builder: Callable[..., nn.Module]
    family: str
    title: str
    default_input: Shape
    source: str  # "lecture", "paper" or "torchvision"
    description: str = ""
    torchvision_name: str | None = None  # name for torchvision.models.get_model_weights
    presets: dict[str, Any] = field(default_factory=dict)  # fixed options, not for users

    @property
    def options(self) -> dict[str, Any]:
        """Keyword options a user may set, with their defaults (input size and presets excluded)."""
        sig = inspect.signature(self.builder)
        return {
            k: p.default
            for k, p in sig.parameters.items()
            if p.kind is inspect.Parameter.KEYWORD_ONLY
            and k != "input_size"
            and k not in self.presets
        }

    @property
    def takes_input_size(self) -> bool:
        return "input_size" in inspect.signature(self.builder).parameters

    def build(self, *, input_size: Shape | None = None, **options: Any) -> nn.Module:
        """Build with keyword options; the input size goes to builders that size by it."""
        unknown = set(options) - set(self.options)
        if unknown:
            raise TypeError(
                f"{self.name} has no option(s) {', '.join(sorted(unknown))}; "
                f"options: {', '.join(self.options) or 'none'}"
            )
        kwargs = {**self.presets, **options}
        if self.takes_input_size:
            kwargs["input_size"] = tuple(input_size or self.default_input)
        return self.builder(**kwargs)

    def build_meta(self, input_size: Shape, **options: Any) -> nn.Module:
        """Build on the meta device (shapes only, no weights); a too-small input names the
        model. Within `cnnviz.model_limits` only (OutOfBounds otherwise): a meta build allocates no
        weights, but the numbers it produces should stay ones a student can read."""
        model_limits.check_input(input_size)
        model_limits.check_options(options)
        try:
            with torch.device("meta"):
                return self.build(input_size=input_size, **options)
        except InputTooSmall as err:
            c, h, w = input_size
            raise InputTooSmall(
                f"A {hwc(h, w, c)} input is too small for {self.name}: {err}"
            ) from None

    def parameter_count(self, input_size: Shape | None = None) -> int:
        """Its parameters at `input_size` (default input if None; torchinfo's total), counted
        on a meta build: no weights allocated, no analysis run."""
        model = self.build_meta(tuple(input_size or self.default_input))
        return sum(p.numel() for p in model.parameters())


REGISTRY: dict[str, Architecture] = {}
# The lecture's order; names() lists families in it.
FAMILIES = ("LeNet-5", "AlexNet", "VGG", "GoogLeNet", "ResNet")


def register(
    name: str,
    *,
    family: str,
    title: str,
    default_input: Shape,
    source: str,
    description: str = "",
    torchvision_name: str | None = None,
    **presets: Any,
) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Decorator: register a builder under `name`; `presets` are fixed keyword options."""

    def wrap(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in REGISTRY:
            raise ValueError(f"architecture {name!r} is registered twice")
        REGISTRY[name] = Architecture(
            name=name,
            builder=builder,
            family=family,
            title=title,
            default_input=default_input,
            source=source,
            description=description,
            torchvision_name=torchvision_name,
            presets=presets,
        )
        return builder

    return wrap


def get(name: str) -> Architecture:
    """The registered architecture called `name`."""
    _load()
    try:
        return REGISTRY[name]
    except KeyError:
        raise UnknownModel(
            f"unknown model {name!r}; known models: {', '.join(sorted(REGISTRY))}"
        ) from None


def names(family: str | None = None) -> list[str]:
    """Registered names in the lecture's order of families, optionally of one family."""
    _load()
    ordered = sorted(REGISTRY.values(), key=lambda a: FAMILIES.index(a.family))
    return [a.name for a in ordered if family is None or a.family == family]


def build(name: str, *, input_size: Shape | None = None, **options: Any) -> nn.Module:
    """Build `name` with keyword options; the input size is passed to builders that size by it."""
    return get(name).build(input_size=input_size, **options)


def cache_key(
    name: str, input_size: Any, options: dict[str, Any]
) -> tuple[str, Shape, tuple[tuple[str, Any], ...]]:
    """(name, C-H-W ints, sorted options): the one key every per-model cache uses.

    Checks what a student typed first: UnknownModel, or OutOfBounds for an input size or a
    builder option outside `cnnviz.model_limits`.
    """
    arch = get(name)
    size = model_limits.check_input(tuple(input_size or arch.default_input))
    model_limits.check_options(options)
    frozen = tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in options.items()))
    return name, size, frozen


def build_meta(name: str, input_size: Shape, **options: Any) -> nn.Module:
    """Build on the meta device (shapes only, no weights); a too-small input names the model.

    Within `cnnviz.model_limits` only (OutOfBounds otherwise): a meta build allocates no weights,
    but the numbers it produces should stay ones a student can read.
    """
    return get(name).build_meta(input_size, **options)


def _load() -> None:
    # Importing the package runs every @register decorator once.
    from cnnviz import architectures  # noqa: F401
