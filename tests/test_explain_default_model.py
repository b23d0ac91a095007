"""The shipped default model (assets/lenet5_digits.pt): small, loads with weights_only, and
reaches the validation accuracy it states (and the README states) on the digits' split."""

from __future__ import annotations

import re

import torch

from cnnviz.data import digits
from cnnviz.explain import default_model, limits
from tests.conftest import ROOT


def test_the_shipped_file_reaches_its_stated_accuracy():
    assert default_model.ASSET.stat().st_size < 400_000
    doc = default_model.load_document()
    model, classes, prep = default_model.load()
    assert classes == [str(d) for d in range(10)]
    data = digits(default_model.SIDE)
    _, val = default_model.split()
    assert len(val) == 359  # 20% of each class's images, rounded half up
    assert limits.DIGIT_INDEX.high == len(val) - 1  # the page's digit picker covers it
    with torch.no_grad():
        predicted = model(prep(data.images[val])).argmax(1)
    accuracy = float((predicted == data.labels[val]).float().mean())
    assert abs(accuracy - doc["val_accuracy"]) < 1 / len(val)  # at most one digit apart
    assert accuracy > 0.95
    stated = re.search(r"validation accuracy of\s+([\d.]+)%", (ROOT / "README.md").read_text())
    assert stated and float(stated.group(1)) == round(doc["val_accuracy"] * 100, 1)
