"""Live experiments (cnnviz.experiments)."""

from __future__ import annotations

from cnnviz.limits import Limit

EXPERIMENT_SEED = Limit(
    "seed",
    0,
    9_999,
    "Any seed gives a fair run; the same seed gives the same numbers again.",
)
