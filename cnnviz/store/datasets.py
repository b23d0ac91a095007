"""A dataset by reference: a job takes a DatasetRef (its content hash and a pin), not the
tensors, and reads the dataset from the store (cnnviz.store.disk), in whatever process or
machine it runs.

    ref = put_dataset(data)        # the page, when Train is pressed
    data = get_dataset(ref)        # the job, when it starts
    release_dataset(ref)           # when no job needs it: the run ended, or was dropped

An entry holds what a run learns from (ImageDataset.content_hash covers exactly that: pixels,
labels, class names, duplicate groups), never the file names, so a student whose upload has
the same bytes as another's reads nothing the student does not already have. Each put adds
its own pin. A student's upload (private, the default) leaves the store with its last pin,
or, if a process crashed holding one, a day later. A built-in dataset (private=False: the
same bytes ship with the app) stays after its last pin as any other entry, least recently
used out first, so the next student of the class finds it written.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import torch

from cnnviz.data import ImageDataset
from cnnviz.errors import DatasetGone
from cnnviz.store.disk import Store, default_store, key_of


@dataclass(frozen=True)
class DatasetRef:
    """A dataset in the store: its content hash, the pin this reference holds, how many
    images it has (for messages; the hash is what counts), and whether it leaves the store
    with its last pin (an upload) or may stay (a built-in dataset). Plain values: picklable."""

    hash: str
    pin: str
    images: int
    private: bool = True

    @property
    def key(self) -> str:
        """The store key of the dataset's entry."""
        return dataset_key(self.hash)


def dataset_key(content_hash: str) -> str:
    return key_of({"kind": "dataset", "format": 1, "content": content_hash})


def _serialize(data: ImageDataset) -> bytes:
    buffer = io.BytesIO()
    torch.save(
        {
            "images": data.images.detach().cpu().contiguous(),
            "labels": data.labels.detach().cpu().to(torch.int64).contiguous(),
            "classes": list(data.classes),
            "duplicates": [[int(i) for i in g] for g in data.duplicates],
        },
        buffer,
    )
    return buffer.getvalue()


def put_dataset(
    data: ImageDataset, store: Store | None = None, *, private: bool = True
) -> DatasetRef:
    """Store `data` (once per content: an equal dataset already there is reused, as the
    built-in ones are by a whole class) and pin it for one job; the reference to hand the job.
    private=False for data that ships with the app (the built-in datasets): it may stay in the
    store once no job needs it."""
    store = store or default_store()
    content = data.content_hash
    key = dataset_key(content)
    pin = store.pin(key)  # first: an eviction from now on leaves the entry alone
    try:
        if not store.has(key):
            store.put(key, _serialize(data))
    except BaseException:
        store.unpin(key, pin)
        raise
    return DatasetRef(content, pin, len(data), private)


def get_dataset(ref: DatasetRef, store: Store | None = None) -> ImageDataset:
    """The dataset `ref` names, from the store; DatasetGone when it left (released, or the
    store folder was emptied). Read with torch.load(weights_only=True): tensors and plain
    lists only, whatever a shared folder holds."""
    store = store or default_store()
    payload = store.get(ref.key)
    if payload is None:
        raise DatasetGone(
            f"The dataset of this run ({ref.images:,} images) is no longer on the server."
        )
    held = torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)
    data = ImageDataset(
        images=held["images"],
        labels=held["labels"],
        classes=[str(c) for c in held["classes"]],
        duplicates=[[int(i) for i in g] for g in held["duplicates"]],
    )
    data.__dict__["content_hash"] = ref.hash  # the entry's checksum vouches for it
    return data


def release_dataset(ref: DatasetRef, store: Store | None = None) -> bool:
    """Drop `ref`'s pin: once no reference holds the dataset, a private one (an upload) leaves
    the store at once; a built-in one stays until evicted. Safe to call again, from any
    process; True when the entry is gone."""
    store = store or default_store()
    return store.unpin(ref.key, ref.pin, remove=ref.private)


def release_datasets(values: object, store: Store | None = None) -> int:
    """Release every DatasetRef among `values` (a job's arguments: a tuple, a list, a dict's
    values, nested); how many. What a runner calls for a job it drops unrun."""
    found = 0
    stack = [values]
    while stack:
        value = stack.pop()
        if isinstance(value, DatasetRef):
            release_dataset(value, store)
            found += 1
        elif isinstance(value, (tuple, list, set, frozenset)):
            stack.extend(value)
        elif isinstance(value, dict):
            stack.extend(value.values())
    return found
