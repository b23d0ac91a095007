"""The synthetic backbone: resnet18 pretrained on procedurally generated fractals (no photo),
built by `make assets` and shipped in assets/, so transfer learning transfers with no internet.

`fractals` draws the corpus, `pretrain` trains on it, `asset` reads and writes the shipped file.
"""

from cnnviz.synthetic.asset import (
    BACKBONE,
    WEIGHTS_PATH,
    available,
    card,
    description,
    load_state,
    supports,
)

__all__ = [
    "BACKBONE",
    "WEIGHTS_PATH",
    "available",
    "card",
    "description",
    "load_state",
    "supports",
]
