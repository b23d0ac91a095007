"""The pure parts behind the Explain page's fine-tuned model: its validation images grouped by
class with the mistakes first, the check that a dataset is the run's, and the sentence when
Grad-CAM's layer is coarser than 4x4 (against shapes written out here)."""

from __future__ import annotations

import torch

from cnnviz.explain.feature_maps import coarse_layer_note
from cnnviz.explain.validation import same_run, validation_set

LABELS = [0, 1, 2, 0, 1, 2, 0, 1, 2, 0]
VAL = [0, 2, 3, 4, 6, 9]  # true classes 0, 2, 0, 1, 0, 0
PRED = [1, 2, 0, 1, 2, 0]  # mistakes: index 0 (as 1) and 6 (as 2)
CONFUSION = [[2, 1, 1], [0, 1, 0], [0, 0, 1]]


def test_grouped_by_true_class_mistakes_first_then_dataset_order():
    images = torch.arange(10, dtype=torch.uint8).view(10, 1, 1, 1).expand(10, 3, 2, 2)
    paths = [f"data/c{y}/img{i}.png" for i, y in enumerate(LABELS)]
    v = validation_set(images, LABELS, paths, ["a", "b", "c"], VAL, PRED)
    assert [[(i.index, i.predicted) for i in g] for g in v.by_class] == [
        [(0, 1), (6, 2), (3, 0), (9, 0)],
        [(4, 1)],
        [(2, 2)],
    ]
    assert [v.mistakes(k) for k in range(3)] == [2, 0, 0]
    first = v.by_class[0][0]
    assert first.name == "img0.png"  # the file's name, not the folders it came from
    assert v.label(first) == "✗ img0.png: predicted b"
    assert v.label(v.by_class[0][2]) == "✓ img3.png: predicted a"
    assert v.picture(v.by_class[0][1]).shape == (2, 2, 3) and v.picture(first)[0, 0, 0] == 0
    assert (v.picture(v.by_class[0][1]) == 6).all()
    unnamed = validation_set(images, LABELS, [], ["a", "b", "c"], VAL, PRED)
    assert unnamed.by_class[1][0].name == "#4"


def test_same_run_recounts_the_confusion_matrix():
    assert same_run(LABELS, VAL, PRED, CONFUSION)
    other = list(LABELS)
    other[3] = 1  # one label differs: the counts differ
    assert not same_run(other, VAL, PRED, CONFUSION)
    assert not same_run(LABELS[:5], VAL, PRED, CONFUSION)  # an index past the dataset
    assert not same_run(LABELS, VAL, PRED[:-1], CONFUSION)
    assert not same_run(LABELS, [], [], [[0] * 3] * 3)
    assert not same_run([5, *LABELS[1:]], VAL, PRED, CONFUSION)  # a label past the classes


SHAPES = {  # ResNet-like at 64 px: children before their container
    "conv1": (64, 32, 32),
    "layer1": (64, 16, 16),
    "layer3.0.conv1": (256, 4, 4),
    "layer3.0": (256, 4, 4),
    "layer3": (256, 4, 4),
    "layer4.0.conv1": (512, 2, 2),
    "layer4.0": (512, 2, 2),
    "layer4": (512, 2, 2),
    "head": (1000, 1, 1),
}


def test_coarse_layer_note():
    assert coarse_layer_note(SHAPES, "layer3", 64) is None
    note = coarse_layer_note(SHAPES, "layer4", 64)
    assert note == (
        "layer4 is 2x2 at 64x64 px: its Grad-CAM map can only say which quarter of the image "
        "mattered. Try layer3 (4x4), the last layer before it with a grid of at least 4x4."
    )
    # A nested layer: the last earlier one at its own depth.
    assert "Try layer3.0 (4x4)" in coarse_layer_note(SHAPES, "layer4.0", 64)
    assert "one number for the whole image" in coarse_layer_note(SHAPES, "head", 64)
    odd = {"a": (8, 3, 3), "b": (8, 8, 8)}
    assert "which of 9 patches" in coarse_layer_note(odd, "a", 24)
    assert "Try b (8x8), the first layer after it" in coarse_layer_note(odd, "a", 24)
    tiny = {"a": (8, 2, 2), "b": (8, 1, 1)}
    assert "No layer of this model is 4x4 or finer" in coarse_layer_note(tiny, "b", 8)
