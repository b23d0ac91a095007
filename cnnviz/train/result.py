"""What a run returns: plain, picklable values (tensors on the CPU), so the same job function
can run in another process or on another machine and hand its result back; and what it
becomes: the model it trained (`FinetuneResult.trained`) and the one file that holds it
(`save_trained`, which `cnnviz.train.export.load_trained` reads back)."""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

import torch

from cnnviz.train import backbones
from cnnviz.train.config import FinetuneConfig
from cnnviz.train.export import FORMAT, Target, TrainedModel, assemble, weights_name


@dataclass(frozen=True)
class SharedBody:
    """What a pickled result carries in place of the synthetic backbone's tensors its model
    shares with the process (backbones.build(..., frozen_body=True)): the file's identity
    (backbones.weights_identity) and the state dict's names in order. Unpickled, they become
    the receiving process's own shared copy, if it holds the same file."""

    identity: str
    order: tuple[str, ...]


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

    def __getstate__(self) -> dict[str, Any]:
        """Pickled (a Ray job's result on its way to the server, a copy): a linear probe on the
        synthetic backbone sends its head and the names of the body's tensors, not the body,
        which the receiving process holds already (SharedBody)."""
        state = dict(self.__dict__)
        spec = self.config.backbone_spec
        body = backbones.shared_body(spec, self.config.weights, self.state_dict)
        if body:
            kept = set(body)
            state["state_dict"] = OrderedDict(
                (k, v) for k, v in self.state_dict.items() if k not in kept
            )
            state["_shared_body"] = SharedBody(
                backbones.weights_identity(spec, "synthetic"), tuple(self.state_dict)
            )
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        shared: SharedBody | None = state.pop("_shared_body", None)
        if shared is not None:
            body = backbones.synthetic_body(state["config"].backbone_spec, shared.identity)
            own = state["state_dict"]
            state["state_dict"] = OrderedDict(
                (k, own[k] if k in own else body[k]) for k in shared.order
            )
        self.__dict__.update(state)

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
        return assemble(
            self.config.backbone_spec,
            self.classes,
            self.preprocessing,
            self.state_dict,
            strategy=self.config.strategy,
            weights=weights_name(self.config.weights),
            val_accuracy=self.val_accuracy,
        )


def _accuracy(value: float | None) -> float | None:
    return None if value is None else float(value)


def save_trained(result: FinetuneResult, target: Target, *, weights: str | None = None) -> None:
    """One file (or binary buffer) holding everything load_trained needs, and how the model
    was trained (strategy, weights, epochs, seed, accuracies). `weights`: the name to record
    for the starting weights, else the config's (a path reduced to its file name)."""
    config = result.config
    torch.save(
        {
            "format": FORMAT,
            "backbone": config.backbone,
            "classes": list(result.classes),
            "preprocessing": dict(result.preprocessing),
            "state_dict": result.state_dict,
            "strategy": config.strategy,
            "last_blocks": int(config.last_blocks),
            "weights": weights_name(weights or config.weights),
            "epochs": len(result.history),
            "seed": int(config.seed),
            "val_accuracy": _accuracy(result.val_accuracy),
            "train_accuracy": _accuracy(result.train_accuracy),
        },
        target,
    )


def file_name(result: FinetuneResult, *, weights: str | None = None) -> str:
    """What to call the saved model: backbone, weights, strategy and validation accuracy,
    e.g. 'resnet18_imagenet_last2_val87.5pct.pt' (letters, digits, '.', '-', '_' only)."""
    config = result.config
    start = PurePath(weights_name(weights or config.weights)).stem
    strategy = f"last{config.last_blocks}" if config.strategy == "last" else config.strategy
    accuracy = "noval" if result.val_accuracy is None else f"val{result.val_accuracy:.1%}"
    parts = (config.backbone, start, strategy, accuracy.replace("%", "pct"))
    return "_".join(re.sub(r"[^A-Za-z0-9.-]+", "-", part).strip("-.") for part in parts) + ".pt"
