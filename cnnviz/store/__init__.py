"""A content-addressed store on disk shared by the server's processes, its job workers and,
through a shared folder, other machines: extracted features (cnnviz.train.features) and the
datasets of queued runs (DatasetRef). Bounded, least recently used entries leave first; a key
is the SHA-256 of everything that decides an entry's content, so entries are never shared
across differing keys. Settings: CNNVIZ_STORE (folder), CNNVIZ_STORE_MB (size)."""

from cnnviz.store.datasets import (
    DatasetRef,
    get_dataset,
    put_dataset,
    release_dataset,
    release_datasets,
)
from cnnviz.store.disk import Entry, Store, default_store, key_of, store_settings
from cnnviz.store.files import file_sha256

__all__ = [
    "DatasetRef",
    "Entry",
    "Store",
    "default_store",
    "file_sha256",
    "get_dataset",
    "key_of",
    "put_dataset",
    "release_dataset",
    "release_datasets",
    "store_settings",
]
