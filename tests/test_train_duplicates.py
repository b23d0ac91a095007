"""finetune splits a dataset with exact duplicates so that no validation image has a twin in
training: the score is not inflated by images the model has already seen."""

from __future__ import annotations

import pytest
import torch
from train_cases import Recorder, one_thread, tiny  # noqa: F401

from cnnviz.data import ImageDataset, stratified_split
from cnnviz.train import FinetuneConfig, finetune

pytestmark = pytest.mark.usefixtures("one_thread")


def with_copies(per_class: int = 10, copied: int = 4) -> ImageDataset:
    """tiny()'s images, the last `copied` of each class replaced by copies of its first ones
    (a renamed copy decodes to the same pixels), the groups said as the loader says them."""
    data = tiny(n_per_class=per_class, classes=3)
    groups = []
    for c in range(3):
        for k in range(copied):
            original, copy = c * per_class + k, c * per_class + per_class - copied + k
            data.images[copy] = data.images[original]
            groups.append([original, copy])
    data.duplicates = groups
    return data


def twins_across(data: ImageDataset, val: list[int]) -> list[int]:
    """The validation images whose exact copy (the same pixels, the oracle) is in training."""
    train = set(range(len(data))) - set(val)
    return [
        i for i in val if any(j in train and data.images[j].equal(data.images[i]) for j in train)
    ]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_no_validation_image_has_a_twin_in_training(seed: int) -> None:
    data = with_copies()
    # Without the groups, this split puts twins on both sides: the check below can fail.
    _, plain = stratified_split(data.labels, 0.3, seed)
    assert twins_across(data, plain.tolist())
    config = FinetuneConfig(
        backbone="mobilenet_v3_small",
        weights="none",
        strategy="linear",
        image_size=16,
        batch_size=8,
        epochs=1,
        val_fraction=0.3,
        seed=seed,
    )
    result = finetune(data, config, report=Recorder())
    assert twins_across(data, result.val_indices) == []
    # Still stratified: 30% of each class's 10 images, the groups whole.
    assert torch.bincount(data.labels[result.val_indices]).tolist() == [3, 3, 3]
    assert len(result.val_predictions) == len(result.val_indices) == 9
