"""The dataset in memory: built-ins with their known counts and pixels, ImageNet normalization
on batches, and a seeded, stratified train/validation split that never puts an image on one
side and its exact duplicate on the other."""

from __future__ import annotations

import random

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


def _plain_split(labels: torch.Tensor, val_fraction: float, seed: int) -> tuple[list, list]:
    """The split as it was before duplicate groups (the oracle for a dataset without any)."""
    generator = torch.Generator().manual_seed(seed)
    train, val = [], []
    for label in torch.unique(labels).tolist():
        members = torch.nonzero(labels == label).flatten()
        members = members[torch.randperm(members.numel(), generator=generator)]
        n = members.numel()
        take = int(n * val_fraction + 0.5)
        if val_fraction > 0 and n >= 2:
            take = min(max(take, 1), n - 1)
        val += members[:take].tolist()
        train += members[take:].tolist()
    return sorted(train), sorted(val)


@pytest.mark.parametrize("seed", range(5))
def test_split_without_duplicates_is_the_plain_split(seed: int) -> None:
    labels = torch.randint(0, 4, (97,), generator=torch.Generator().manual_seed(seed))
    for fraction in (0.0, 0.1, 0.25, 0.5):
        train, val = stratified_split(labels, fraction, seed)
        assert (train.tolist(), val.tolist()) == _plain_split(labels, fraction, seed)
        assert train.dtype == val.dtype == torch.int64


def _random_groups(labels: list[int], rng: random.Random) -> tuple[list[list[int]], set[int]]:
    """Disjoint duplicate groups over the images: most within a class (2 to 5 copies), a few
    across classes; the images of the groups across classes."""
    free = list(range(len(labels)))
    rng.shuffle(free)
    groups, across = [], set()
    while len(free) > len(labels) // 3:
        size = rng.randint(2, 5)
        if rng.random() < 0.2:
            group = [free.pop() for _ in range(size)]  # whatever their classes
        else:
            first = free.pop()
            same = [i for i in free if labels[i] == labels[first]][: size - 1]
            for i in same:
                free.remove(i)
            group = [first, *same]
        if len(group) > 1:
            groups.append(group)
            if len({labels[i] for i in group}) > 1:
                across |= set(group)
    return groups, across


@pytest.mark.parametrize("seed", range(12))
def test_split_never_puts_twins_on_both_sides(seed: int) -> None:
    rng = random.Random(seed)
    labels = [rng.randrange(3) for _ in range(rng.randint(30, 120))]
    groups, across = _random_groups(labels, rng)
    assert groups  # the property is about something
    tensor = torch.tensor(labels)
    fraction = rng.choice([0.1, 0.2, 0.3, 0.5])
    train, val = stratified_split(tensor, fraction, seed, groups)
    train_set, val_set = set(train.tolist()), set(val.tolist())
    assert sorted(train_set | val_set) == list(range(len(labels))) and not train_set & val_set
    for group in groups:
        assert set(group) <= train_set or set(group) <= val_set, group
    assert not across & val_set  # the same image in two classes: trained, never validated
    group_of = {i: g for g in groups for i in g}
    for label in set(labels):
        members = [i for i, x in enumerate(labels) if x == label]
        n = len(members)
        take = min(max(int(n * fraction + 0.5), 1), n - 1) if n >= 2 else 0
        in_val = [i for i in members if i in val_set]
        assert any(i in train_set for i in members)  # every class trains
        # Units: an image alone, or its class's copies of one group (those across classes
        # stay in training). Validation takes as many images as the plain split, or fewer
        # only where no unit left in training fits; more only as one unit when none fits.
        units = {
            tuple(sorted(x for x in group_of.get(i, [i]) if labels[x] == label)) for i in members
        }
        drawn = [u for u in units if u[0] not in across]
        left = [u for u in drawn if u[0] in train_set]
        if len(in_val) < take:
            assert all(len(in_val) + len(u) > take for u in left), (label, take, in_val)
        elif len(in_val) > take:
            assert tuple(in_val) in units and all(len(u) > take for u in drawn)
    again = stratified_split(tensor, fraction, seed, groups)
    assert train.equal(again[0]) and val.equal(again[1])  # seeded


def test_split_keeps_a_validation_image_for_a_class_of_large_groups() -> None:
    # Class 0: two groups of 3 copies; 20% of 6 is 1, smaller than any group: one group goes.
    labels = torch.tensor([0] * 6 + [1] * 5)
    train, val = stratified_split(labels, 0.2, 0, [[0, 1, 2], [3, 4, 5]])
    val0 = [i for i in val.tolist() if labels[i] == 0]
    assert val0 in ([0, 1, 2], [3, 4, 5]) and (labels[val] == 1).sum() == 1
    # A class that is one image copied: nothing left to validate it without its twin.
    labels = torch.tensor([0, 0, 0, 1, 1])
    train, val = stratified_split(labels, 0.4, 0, [[0, 1, 2]])
    assert {0, 1, 2} <= set(train.tolist()) and labels[val].tolist() == [1]


@pytest.mark.parametrize(("groups", "says"), [([[0, 9]], "not in 0..3"), ([[0, 1], [1, 2]], "two")])
def test_split_refuses_bad_groups(groups: list[list[int]], says: str) -> None:
    with pytest.raises(ValueError, match=says):
        stratified_split(torch.tensor([0, 0, 1, 1]), 0.5, 0, groups)
