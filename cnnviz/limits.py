"""The shared types of every bound a student can hit, and the few bounds that are no one
feature's own. Each feature keeps its limits beside it, in a module named `limits` (or
`*_limits` at the top level): cnnviz.model_limits (a model's input, builder options),
cnnviz.layer_limits (the layer calculator), cnnviz.receptive_field.limits, cnnviz.augment.limits,
cnnviz.data.limits, cnnviz.explain.limits, cnnviz.train.limits, cnnviz.experiments.limits. The
pages take their widget limits from there and the library refuses anything outside them with
OutOfBounds (the CLI exits 2).

They keep any one request cheap on a 2-core server shared by a class.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

from cnnviz.errors import OutOfBounds


@dataclass(frozen=True)
class Limit:
    """The allowed range of one number a student types, and why it stops there."""

    what: str  # "input height", as a sentence says it
    low: int
    high: int
    why: str

    @property
    def bounds(self) -> dict[str, Any]:
        """min_value, max_value and help for a Streamlit number_input or slider."""
        return {"min_value": self.low, "max_value": self.high, "help": self.help}

    @property
    def help(self) -> str:
        """The range and the reason, for a widget's help text."""
        return f"From {self.low:,} to {self.high:,}. {self.why}"

    def check(self, value: Any, what: str | None = None) -> int:
        """`value` as an int; OutOfBounds (naming the range) when it is outside it."""
        real = isinstance(value, numbers.Real) and not isinstance(value, bool)
        if not real or not math.isfinite(value) or value != int(value):
            raise OutOfBounds(
                f"The {what or self.what} must be a whole number, not {value!r}.",
                f"Use a whole number from {self.low:,} to {self.high:,}.",
            )
        if not self.low <= value <= self.high:
            raise OutOfBounds(
                f"The {what or self.what} is {int(value):,}: it must be from {self.low:,} to "
                f"{self.high:,}. {self.why}",
                f"Use a value from {self.low:,} to {self.high:,}.",
            )
        return int(value)


@dataclass(frozen=True)
class Span:
    """The allowed range of one real number a student picks (a probability, an angle, a
    factor), the slider's step, and why it stops there."""

    what: str
    low: float
    high: float
    step: float
    why: str

    @property
    def bounds(self) -> dict[str, Any]:
        """min_value, max_value, step and help for a Streamlit slider or number_input."""
        return {"min_value": self.low, "max_value": self.high, "step": self.step, "help": self.help}

    @property
    def help(self) -> str:
        return f"From {self.low:g} to {self.high:g}. {self.why}"

    @property
    def decimals(self) -> int:
        """Decimals of the step: values are rounded to them (a slider's 0.1 + 0.2 is 0.3)."""
        return max(0, -math.floor(math.log10(self.step))) if self.step < 1 else 0

    def check(self, value: Any, what: str | None = None) -> float:
        """`value` as a float rounded to the step's decimals; OutOfBounds outside the range."""
        real = isinstance(value, numbers.Real) and not isinstance(value, bool)
        if not real or not math.isfinite(value):
            raise OutOfBounds(
                f"The {what or self.what} must be a number, not {value!r}.",
                f"Use a number from {self.low:g} to {self.high:g}.",
            )
        if not self.low <= value <= self.high:
            raise OutOfBounds(
                f"The {what or self.what} is {value:g}: it must be from {self.low:g} to "
                f"{self.high:g}. {self.why}",
                f"Use a value from {self.low:g} to {self.high:g}.",
            )
        return round(float(value), self.decimals + 2)


# --- Uploaded pictures (read from the file's header before anything is decoded) --------------
UPLOAD_PIXELS = Limit(
    "image size in pixels",
    1,
    40_000_000,
    "Larger images are refused before they are decoded (40 megapixels are 120 MB as RGB).",
)


def check_upload(width: int | None, height: int | None, pixels: int | None = None) -> None:
    """An uploaded image's size, from its header; OutOfBounds above UPLOAD_PIXELS."""
    pixels = pixels if pixels is not None else (width or 0) * (height or 0)
    if pixels > UPLOAD_PIXELS.high:
        size = f"{width}x{height} pixels, " if width and height else ""
        raise OutOfBounds(
            f"The image is too large ({size}{pixels / 1e6:,.0f} megapixels): uploads are limited "
            f"to {UPLOAD_PIXELS.high // 1_000_000} megapixels. {UPLOAD_PIXELS.why}",
            f"Upload an image under {UPLOAD_PIXELS.high // 1_000_000} megapixels.",
        )


# What torch says when the operating system refuses an allocation at once.
_ALLOCATION_WORDS = ("can't allocate memory", "not enough memory", "out of memory")


def allocation_failure(err: BaseException, what: str) -> OutOfBounds | None:
    """A clear OutOfBounds for an allocation the machine refused (None for any other error):
    the raw allocator message means nothing to a student, and a larger input will not help."""
    text = str(err).lower()
    if isinstance(err, MemoryError) or any(w in text for w in _ALLOCATION_WORDS):
        return OutOfBounds(
            f"{what} needs more memory than this server can give one request.",
            "Use a smaller input, fewer channels or a smaller model.",
        )
    return None
