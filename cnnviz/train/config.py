"""What a student chooses for one run, checked against cnnviz.train.limits when it is made."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from cnnviz.jobs import devices
from cnnviz.train import backbones, limits

# The page's defaults, which the CLI shares: a student reproducing a page's run with
# `python -m cnnviz finetune` gets the same run.
DEFAULT_EPOCHS = 3
DEFAULT_LAST_BLOCKS = 2


def default_image_size(cuda: bool) -> int:
    """ImageNet's 224 on a GPU, 32 on a CPU (49x fewer pixels: a class on a 2-core server sees
    curves within seconds)."""
    return 224 if cuda else 32


def default_last_blocks(backbone: backbones.BackboneSpec) -> int:
    """The last two blocks, or all of them for a backbone with fewer."""
    return min(DEFAULT_LAST_BLOCKS, len(backbone.blocks))


@dataclass(frozen=True)
class FinetuneConfig:
    """One transfer-learning run. Every number is bounded (cnnviz.train.limits): OutOfBounds,
    InputTooSmall or UnknownModel at construction, before any work starts.

    weights: "imagenet" (torchvision's cache), "synthetic" (resnet18 pretrained on fractals,
    shipped in assets/), "none" (seeded random initialization) or the path of a state-dict
    file. The new head always learns at lr * head_lr_factor (it starts
    from random values), the unfrozen blocks of "last" and "full" at lr.

    `backbone` is the name a student picks and the run's JSON records; `backbone_spec` is that
    backbone resolved once, here, and what the training functions take (a small frozen
    dataclass: the config stays picklable for a job in another process).
    """

    backbone: str = "resnet18"
    weights: str = "imagenet"
    strategy: str = "linear"
    last_blocks: int = 1
    epochs: int = 5
    image_size: int = 224
    batch_size: int = 32
    lr: float = 1e-3
    head_lr_factor: float = 10.0
    val_fraction: float = 0.2
    seed: int = 0
    device: str | None = None
    amp: bool = True  # on CUDA: automatic mixed precision (bf16 where supported, else fp16)
    backbone_spec: backbones.BackboneSpec = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        backbone = backbones.spec(self.backbone)
        object.__setattr__(self, "backbone_spec", backbone)
        backbones.check_strategy(self.strategy)
        if not isinstance(self.weights, str) or not self.weights:
            raise ValueError("weights must be 'imagenet', 'synthetic', 'none' or a file path")
        if self.weights == "synthetic":
            backbones.synthetic_state_check(backbone)
        checked = {
            "last_blocks": limits.TRAIN_LAST_BLOCKS.check(self.last_blocks),
            "epochs": limits.TRAIN_EPOCHS.check(self.epochs),
            "image_size": limits.TRAIN_IMAGE_SIZE.check(self.image_size),
            "batch_size": limits.TRAIN_BATCH_SIZE.check(self.batch_size),
            "lr": limits.TRAIN_LR.check(self.lr),
            "head_lr_factor": limits.TRAIN_HEAD_LR_FACTOR.check(self.head_lr_factor),
            "val_fraction": limits.TRAIN_VAL_FRACTION.check(self.val_fraction),
            "seed": limits.TRAIN_SEED.check(self.seed),
        }
        if self.device is not None:
            devices.resolve(self.device)  # UnknownDevice for a device this server lacks
        backbones.check_last_blocks(backbone, checked["last_blocks"])
        backbones.check_side(backbone, checked["image_size"])
        for key, value in checked.items():  # ints stay ints, 1 -> 1.0 for the floats
            object.__setattr__(self, key, value)

    @property
    def head_lr(self) -> float:
        return self.lr * self.head_lr_factor

    def to_json(self) -> dict[str, Any]:
        """Every setting as the student chose it (the backbone by its name)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.init}
