"""Axis ticks written like the metrics beside the charts: '1.50 G', not plotly's '1.5B'."""

from __future__ import annotations

import math

from cnnviz.notation import compact

_STEPS = (1, 2, 5, 10)  # integer multiples only: compact() writes counts below 1 M as integers


def compact_ticks(top: float, count: int = 5) -> dict[str, list]:
    """tickvals/ticktext from 0 to at least `top` in round steps, labeled with notation.compact.

    Pass to fig.update_yaxes(**compact_ticks(top)); an empty dict where there is nothing to show.
    """
    if top <= 0:
        return {}
    raw = top / count
    power = 10 ** math.floor(math.log10(raw))
    step = max(1, next(s * power for s in _STEPS if s * power >= raw))
    values = [i * step for i in range(math.ceil(top / step) + 1)]
    return {"tickvals": values, "ticktext": [compact(v) for v in values]}
