"""Page presets in the URL: a widget's value as query-parameter text and back, checked against
the widget's own bounds (a `cnnviz.limits.Limit`, the select's options), so that a shared link
such as `?model=resnet50&layer=layer3&unit=4,7` opens the page as the teacher left it.

The parsers raise BadPreset naming the parameter and the text: the page then shows its default
with a notice. A link never carries this tab's job keys (cnnviz.ui.jobs): they are private.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import urlencode

from cnnviz.errors import BadPreset, CnnvizError
from cnnviz.limits import Limit, Span

T = TypeVar("T")

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")
# Query parameters of cnnviz.ui.jobs: a tab's unguessable session key and its job ids.
PRIVATE = ("jobs",)
PRIVATE_SUFFIX = "_job"


def _bad(param: str, text: str, why: str) -> BadPreset:
    return BadPreset(f"The link's {param}={text!r} {why}: the page shows its default.")


def encode(value: Any) -> str:
    """The text a value takes in the URL: 1/0 for a switch, "4,7" for a pair, 0.5 not 0.50."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (tuple, list)):
        return ",".join(encode(v) for v in value)
    return str(value)


def slug(label: str) -> str:
    """A label as a short URL word: "Cat (Chelsea)" -> "cat", "Handwritten digit" ->
    "handwritten-digit"."""
    return label.split(" (")[0].strip().lower().replace(" ", "-")


def parse_number(param: str, text: str, limit: Limit | Span) -> int | float:
    """`text` as the widget's number: a whole number for a Limit, a real one for a Span, and
    within the same bounds the widget has."""
    try:
        value = float(text.strip())
    except ValueError:
        raise _bad(param, text, "is not a number") from None
    if isinstance(limit, Limit):
        if not math.isfinite(value) or value != int(value):
            raise _bad(param, text, "is not a whole number")
        value = int(value)
    try:
        return limit.check(value, f"{limit.what} ({param})")
    except CnnvizError:
        shown = "{:,}" if isinstance(limit, Limit) else "{:g}"
        low, high = shown.format(limit.low), shown.format(limit.high)
        raise _bad(param, text, f"is outside the range {low} to {high}") from None


def parse_flag(param: str, text: str) -> bool:
    """A switch: 1/true/yes/on or 0/false/no/off."""
    word = text.strip().lower()
    if word in _TRUE or word in _FALSE:
        return word in _TRUE
    raise _bad(param, text, "is not 1 or 0")


def parse_choice(
    param: str, text: str, options: Sequence[T], name: Callable[[T], str] = encode
) -> T:
    """The option whose URL name is `text` (case-insensitive)."""
    wanted = text.strip().lower()
    for option in options:
        if name(option).lower() == wanted:
            return option
    shown = ", ".join(name(o) for o in options[:12]) + (", ..." if len(options) > 12 else "")
    raise _bad(param, text, f"is not one of the options ({shown})")


def parse_choices(
    param: str, text: str, options: Sequence[T], name: Callable[[T], str] = encode
) -> list[T]:
    """Several options, comma-separated ("saliency,gradcam"); an empty text is none."""
    chosen = []
    for part in (p for p in text.split(",") if p.strip()):
        try:
            chosen.append(parse_choice(param, part, options, name))
        except BadPreset:
            raise _bad(param, text, f"names {part.strip()!r}, not an option") from None
    return chosen


def parse_pair(param: str, text: str) -> tuple[int, int]:
    """Two whole numbers "i,j" (a unit's row and column); their range is the caller's."""
    parts = text.split(",")
    try:
        i, j = (int(p.strip()) for p in parts)
    except ValueError:
        raise _bad(param, text, "is not two whole numbers like 4,7") from None
    return i, j


def share_query(params: Mapping[str, str | Iterable[str]]) -> str:
    """The query string of a link to this view: every parameter but this tab's job keys."""
    public = {
        k: v for k, v in params.items() if k not in PRIVATE and not k.endswith(PRIVATE_SUFFIX)
    }
    return urlencode(public, doseq=True, safe=",")


def share_url(page_url: str | None, params: Mapping[str, str | Iterable[str]]) -> str:
    """The page's URL (without its query) with the view's parameters."""
    query = share_query(params)
    base = (page_url or "").split("?", 1)[0]
    return f"{base}?{query}" if query else base or "?"
