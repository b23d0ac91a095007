"""Training a transfer-learning head or fine-tuning (cnnviz.train)."""

from __future__ import annotations

from cnnviz.limits import Limit, Span

TRAIN_EPOCHS = Limit(
    "number of epochs",
    1,
    100,
    "A linear probe's epoch on cached features takes milliseconds, a full fine-tune's epoch "
    "minutes on a CPU: the estimate before the start says which.",
)

TRAIN_BATCH_SIZE = Limit(
    "batch size",
    2,
    256,
    "Batch norm needs at least 2 images per batch; 256 images at 224 fill about 4 GB of "
    "activations in a ResNet-18 fine-tune.",
)

TRAIN_IMAGE_SIZE = Limit(
    "image side for training",
    16,
    224,
    "The ImageNet weights were trained at 224; smaller images train much faster (the cost "
    "grows with the square of the side). AlexNet needs 64 and VGG-16 32 at least.",
)

TRAIN_LAST_BLOCKS = Limit(
    "number of last blocks to fine-tune",
    1,
    15,
    "VGG-16, the deepest backbone here, has 15 (13 conv layers and FC6, FC7).",
)

TRAIN_SEED = Limit("seed", 0, 2**31 - 1, "Any whole number: the same seed, the same run.")

TRAIN_LR = Span(
    "learning rate",
    1e-6,
    1.0,
    1e-4,
    "Adam's usual learning rates are 1e-4 to 1e-2; pretrained layers want the small end.",
)

TRAIN_HEAD_LR_FACTOR = Span(
    "head learning-rate factor",
    1.0,
    100.0,
    0.5,
    "The new head starts from random weights and may learn faster than the pretrained blocks.",
)

TRAIN_VAL_FRACTION = Span(
    "validation fraction",
    0.05,
    0.5,
    0.05,
    "Each class keeps at least one image for validation and one for training.",
)
