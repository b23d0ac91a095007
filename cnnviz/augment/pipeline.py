"""An augmentation pipeline: an ordered list of catalog steps with their values, validated
against cnnviz.augment.limits before anything is built, then a torchvision.transforms.v2.Compose."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from torchvision.transforms import v2

from cnnviz.augment import limits
from cnnviz.augment.catalog import Param, TransformSpec, spec
from cnnviz.errors import OutOfBounds
from cnnviz.limits import Limit, Span


@dataclass(frozen=True)
class Step:
    """One step of a pipeline: a catalog name and every one of its values (hashable, so
    the page can cache the draws of a pipeline)."""

    name: str
    values: tuple[tuple[str, Any], ...]

    @property
    def spec(self) -> TransformSpec:
        return spec(self.name)

    def value_dict(self) -> dict[str, Any]:
        return dict(self.values)

    def build(self) -> v2.Transform:
        return self.spec.build(self.value_dict())


def _check_value(param: Param, value: Any, step: str) -> Any:
    what = f"{param.label.lower()} of '{step}'"
    if param.kind == "choice":
        if value not in param.options:
            raise OutOfBounds(
                f"The {what} is {value!r}: it must be one of {', '.join(param.options)}.",
                f"Pick one of {', '.join(param.options)}.",
            )
        return value
    limit = param.limit
    assert limit is not None, param  # every number in the catalog has its bounds
    if param.kind == "range":
        if not isinstance(value, (tuple, list)) or len(value) != 2:
            raise OutOfBounds(f"The {what} is two numbers, low and high; got {value!r}.")
        low, high = (limit.check(v, what) for v in value)
        if low > high:
            raise OutOfBounds(
                f"The {what} goes from {low:g} down to {high:g}: the low end must come first.",
                "Swap the two numbers.",
            )
        return (low, high)
    if param.kind == "int":
        if not isinstance(limit, Limit):
            raise TypeError(f"{param.name}: a whole number needs a Limit")
        checked = limit.check(value, what)
        if param.name == "kernel_size" and checked % 2 == 0:
            raise OutOfBounds(
                f"The {what} is {checked}: a blur kernel has an odd side, so it has a center.",
                f"Use {checked - 1} or {checked + 1}.",
            )
        return checked
    if not isinstance(limit, Span):
        raise TypeError(f"{param.name}: a real number needs a Span")
    return limit.check(value, what)


def make_step(name: str, values: Mapping[str, Any] | None = None) -> Step:
    """A validated step: the catalog's defaults, overridden by `values`. OutOfBounds for a value
    outside its bounds or a setting the transform does not have; UnknownTransform for a name
    that is not in the catalog."""
    entry = spec(name)
    given = dict(values or {})
    unknown = set(given) - {p.name for p in entry.params}
    if unknown:
        raise OutOfBounds(
            f"'{name}' has no setting {', '.join(sorted(unknown))}; its settings are: "
            f"{', '.join(p.name for p in entry.params) or 'none'}.",
            "Leave out the settings the step does not have.",
        )
    checked = tuple(
        (p.name, _check_value(p, given.get(p.name, p.default), name)) for p in entry.params
    )
    return Step(name, checked)


def validate(steps: Iterable[Step]) -> tuple[Step, ...]:
    """The steps checked again (a Step can be built by hand): the number of steps and every
    value within bounds."""
    steps = tuple(steps)
    limits.PIPELINE_STEPS.check(len(steps))
    return tuple(make_step(s.name, s.value_dict()) for s in steps)


def build(steps: Sequence[Step]) -> v2.Compose:
    """The validated steps as one v2.Compose, in order (v2.Identity for no step: Compose
    needs one)."""
    return v2.Compose([s.build() for s in validate(steps)] or [v2.Identity()])
