"""The dataset in memory: built-ins with their known counts and pixels, ImageNet normalization
on batches, and a seeded, stratified train/validation split."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage.data import lfw_subset
from sklearn.datasets import load_digits

from cnnviz import images
from cnnviz.data import digits, lfw, normalize, stratified_split
from cnnviz.errors import OutOfBounds


def test_digits() -> None:
    dataset = digits(size=32)
    target = load_digits().target
    assert dataset.images.shape == (1797, 3, 32, 32) and dataset.images.dtype == torch.uint8
    assert dataset.classes == [str(d) for d in range(10)]
    assert list(dataset.counts().values()) == np.bincount(target).tolist()
    assert dataset.labels.tolist() == target.tolist()


def test_digits_at_their_own_size_are_the_pixels_scaled() -> None:
    # At 8x8 the resize is the identity: 0..16 -> 0..255, the same on all 3 channels.
    dataset = digits(size=8)
    expected = np.rint(load_digits().images * 255 / 16).astype(np.uint8)
    for channel in range(3):
        assert np.array_equal(dataset.images[:, channel].numpy(), expected)


def test_lfw_subset() -> None:
    dataset = lfw(size=25)
    assert dataset.images.shape == (200, 3, 25, 25)
    assert dataset.counts() == {"face": 100, "not face": 100}
    assert dataset.labels[:100].eq(0).all() and dataset.labels[100:].eq(1).all()
    expected = np.rint(lfw_subset() * 255).astype(np.uint8)
    assert np.array_equal(dataset.images[:, 0].numpy(), expected)


def test_builtin_size_within_the_limits() -> None:
    with pytest.raises(OutOfBounds):
        digits(size=1000)


def test_normalize_matches_a_single_upload() -> None:
    # cnnviz.images.to_input normalizes one picture: the second method.
    rng = np.random.default_rng(0)
    pictures = rng.integers(0, 256, (4, 12, 10, 3), dtype=np.uint8)
    batch = torch.from_numpy(pictures).permute(0, 3, 1, 2).contiguous()
    expected = torch.cat([images.to_input(p) for p in pictures])
    torch.testing.assert_close(normalize(batch), expected)
    torch.testing.assert_close(normalize(batch.float() / 255), expected)


def test_split_is_stratified_and_seeded() -> None:
    labels = torch.tensor([0] * 10 + [1] * 3 + [2] * 2)
    train, val = stratified_split(labels, 0.25, seed=1)
    assert sorted(train.tolist() + val.tolist()) == list(range(15))  # a partition
    # Per class: 10 x 0.25 = 2.5 -> 3; 0.75 -> 1; 0.5 -> 1 (at least one, one left to train).
    assert torch.bincount(labels[val]).tolist() == [3, 1, 1]
    assert torch.bincount(labels[train]).tolist() == [7, 2, 1]
    again = stratified_split(labels, 0.25, seed=1)
    assert train.equal(again[0]) and val.equal(again[1])
    others = {tuple(stratified_split(labels, 0.25, seed=s)[1].tolist()) for s in range(10)}
    assert len(others) > 1


def test_split_without_validation() -> None:
    train, val = stratified_split(torch.tensor([0, 0, 1, 1]), 0.0)
    assert train.tolist() == [0, 1, 2, 3] and val.numel() == 0
    with pytest.raises(ValueError):
        stratified_split(torch.tensor([0, 1]), 1.0)
