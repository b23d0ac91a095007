"""Datasets by reference: the content hash, put and get through the store, pins, release, and
finetune taking a reference as it takes the dataset."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch
from train_cases import Recorder, one_thread, tiny  # noqa: F401

from cnnviz.data import ImageDataset, digits
from cnnviz.errors import DatasetGone
from cnnviz.store import (
    Store,
    get_dataset,
    put_dataset,
    release_dataset,
    release_datasets,
)
from cnnviz.train import FinetuneConfig, finetune

MB = 2**20


def _copy(data: ImageDataset, **changes: object) -> ImageDataset:
    fields = {
        "images": data.images.clone(),
        "labels": data.labels.clone(),
        "classes": list(data.classes),
        "duplicates": [list(g) for g in data.duplicates],
        **changes,
    }
    return ImageDataset(**fields)  # type: ignore[arg-type]


def test_the_content_hash_follows_the_content_only() -> None:
    data = tiny()
    same = _copy(data, paths=[f"other/{i}.png" for i in range(len(data))])
    assert data.content_hash == same.content_hash  # file names are not content
    assert data.content_hash == _fresh_hash(data)
    assert digits(16).content_hash == digits(16).content_hash  # built twice: one hash
    one_pixel = data.images.clone()
    one_pixel[3, 1, 2, 2] ^= 1
    label = data.labels.clone()
    label[0] = 1
    for changed in (
        _copy(data, images=one_pixel),
        _copy(data, labels=label),
        _copy(data, classes=["c0", "c9"]),
        _copy(data, duplicates=[[0, 1]]),
        _copy(data, images=data.images[:, :, :8, :8].contiguous()),
    ):
        assert changed.content_hash != data.content_hash


def _fresh_hash(data: ImageDataset) -> str:
    """The hash again, computed on a fresh object (the first is cached on its dataset)."""
    assert "content_hash" in data.__dict__  # cached: asking again costs nothing
    return _copy(data).content_hash


def test_put_get_release(tmp_path: Path) -> None:
    store = Store(tmp_path, 64 * MB)
    data = _copy(tiny(), duplicates=[[0, 1]], paths=["secret/a.png"] * 12)
    ref = put_dataset(data, store)
    assert pickle.loads(pickle.dumps(ref)) == ref and ref.images == len(data)
    back = get_dataset(ref, store)
    assert torch.equal(back.images, data.images) and torch.equal(back.labels, data.labels)
    assert back.classes == data.classes and back.duplicates == data.duplicates
    assert back.paths == [] and back.content_hash == data.content_hash
    assert b"secret" not in store.path(ref.key).read_bytes()  # names never stored
    # A second run of the same content (a classmate, the same built-in): one entry, two pins.
    other = put_dataset(_copy(data), store)
    assert other.hash == ref.hash and other.pin != ref.pin and len(store.entries()) == 1
    assert release_dataset(ref, store) is False
    assert torch.equal(get_dataset(other, store).images, data.images)
    assert release_dataset(other, store) is True
    assert store.entries() == []
    with pytest.raises(DatasetGone, match="no longer on the server"):
        get_dataset(other, store)
    assert release_dataset(other, store) is True  # again: nothing happens


def test_release_datasets_finds_the_references_among_a_jobs_arguments(tmp_path: Path) -> None:
    store = Store(tmp_path, 64 * MB)
    a = put_dataset(tiny(), store)
    b = put_dataset(tiny(seed=1), store)
    assert release_datasets(((a, "config"), {"data": [b]}, 3), store) == 2
    assert store.entries() == []


@pytest.mark.usefixtures("one_thread")
def test_finetune_takes_a_reference_as_it_takes_the_dataset(tmp_path: Path) -> None:
    data = tiny()
    config = FinetuneConfig(
        backbone="mobilenet_v3_small", weights="none", strategy="last", last_blocks=1,
        image_size=16, batch_size=4, epochs=2,
    )  # fmt: skip
    store = Store(tmp_path, 64 * MB)
    direct = finetune(data, config, report=Recorder(), store=store)
    ref = put_dataset(data, store)
    by_ref = finetune(ref, config, report=Recorder(), store=store)
    assert by_ref.history == direct.history
    for key, value in direct.state_dict.items():
        assert torch.equal(by_ref.state_dict[key], value), key
    assert not store.has(ref.key)  # the run released its reference when it ended
    with pytest.raises(DatasetGone):
        finetune(ref, config, report=Recorder(), store=store)


def test_a_builtin_dataset_stays_after_its_last_run_until_evicted(tmp_path: Path) -> None:
    store = Store(tmp_path, 64 * MB)
    data = tiny()
    ref = put_dataset(data, store, private=False)
    written = store.path(ref.key).stat().st_ino  # a rewrite (os.replace) is another inode
    assert release_dataset(ref, store) is False  # no pin left, still there
    again = put_dataset(data, store, private=False)  # the next student: nothing rewritten
    assert store.path(again.key).stat().st_ino == written
    assert torch.equal(get_dataset(again, store).images, data.images)
    release_dataset(again, store)
    assert not store.pinned(again.key)
    small = Store(tmp_path, 16)  # unpinned: the next eviction may take it
    small.evict()
    assert not store.has(again.key)
