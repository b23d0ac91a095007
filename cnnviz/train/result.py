"""What a run returns: plain, picklable values (tensors on the CPU), so the same job function
can run in another process or on another machine and hand its result back."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch

from cnnviz.train.config import FinetuneConfig

if TYPE_CHECKING:
    from cnnviz.train.export import TrainedModel


@dataclass
class FinetuneResult:
    """A finished (or stopped) run: its curves, its validation scores, the trained weights.

    history: one dict per finished epoch {"epoch", "train_loss", "train_accuracy", "val_loss",
    "val_accuracy"}. The validation figures (per-class accuracy, confusion, predictions) are
    those of the last finished epoch; empty when the run stopped before one finished.
    """

    config: FinetuneConfig
    device: str
    device_name: str
    classes: list[str]
    history: list[dict[str, float]]
    train_accuracy: float | None
    val_accuracy: float | None
    per_class_accuracy: dict[str, float | None]
    confusion: list[list[int]]
    val_indices: list[int]
    val_predictions: list[int]
    seconds: float
    stopped: bool
    state_dict: OrderedDict[str, torch.Tensor]
    preprocessing: dict[str, Any]
    # Where the seconds went ("prepare", "features", "head", "train", "validate"), for the bench.
    timings: dict[str, float] = field(default_factory=dict)
    trainable_parameters: int = 0
    total_parameters: int = 0

    def to_json(self) -> dict[str, Any]:
        """The `python -m cnnviz finetune --json` document."""
        return {
            "backbone": self.config.backbone,
            "strategy": self.config.strategy,
            "device": self.device,
            "device_name": self.device_name,
            "classes": list(self.classes),
            "epochs": self.config.epochs,
            "history": [dict(h) for h in self.history],
            "train_accuracy": self.train_accuracy,
            "val_accuracy": self.val_accuracy,
            "per_class_accuracy": dict(self.per_class_accuracy),
            "confusion": [list(row) for row in self.confusion],
            "seconds": self.seconds,
            "stopped": self.stopped,
            "config": self.config.to_json(),  # every setting of the run, defaults resolved
        }

    def trained(self) -> TrainedModel:
        """The trained model, ready to predict (eval mode, on the CPU)."""
        from cnnviz.train.export import assemble, weights_name

        return assemble(
            self.config.backbone,
            self.classes,
            self.preprocessing,
            self.state_dict,
            strategy=self.config.strategy,
            weights=weights_name(self.config.weights),
            val_accuracy=self.val_accuracy,
        )
