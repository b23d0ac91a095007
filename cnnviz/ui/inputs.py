"""Number inputs bounded by `cnnviz.limits`: the same range the library enforces, said in the
widget's help."""

from __future__ import annotations

from typing import Any

from cnnviz.limits import FloatLimit, Limit


def bounded(column: Any, label: str, limit: Limit, value: int | None, key: str, **kw: Any) -> int:
    """A whole-number `column.number_input` from limit.low to limit.high; `help` (if given) is
    followed by the range. value None: the widget's value comes from st.session_state[key]."""
    bounds = limit.bounds
    if "help" in kw:
        bounds["help"] = f"{kw.pop('help')} {bounds['help']}"
    if value is not None:
        kw["value"] = value
    return int(column.number_input(label, step=kw.pop("step", 1), key=key, **bounds, **kw))


def bounded_float(
    column: Any, label: str, limit: FloatLimit, value: float, key: str, **kw: Any
) -> float:
    """A real-number `column.number_input` from limit.low to limit.high, the range in its help."""
    bounds = limit.bounds
    if "help" in kw:
        bounds["help"] = f"{kw.pop('help')} {bounds['help']}"
    return float(column.number_input(label, value=float(value), key=key, **bounds, **kw))
