"""Weight files from users: the format checked from the file's first bytes, then read with
torch.load(weights_only=True) only, which unpickles tensors and plain containers but never runs
code a file brings along."""

from __future__ import annotations

import os
import pickle
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import IO

import torch

from cnnviz.data import limits
from cnnviz.errors import BadWeightsFile
from cnnviz.notation import megabytes

# torch.save writes a zip archive; the legacy format (_use_new_zipfile_serialization=False)
# a pickle whose first object is torch.serialization's magic number, pickled as an 80-bit long.
ZIP_MAGIC = b"PK\x03\x04"
_LEGACY_MAGIC = b"\x8a\x0a" + torch.serialization.MAGIC_NUMBER.to_bytes(10, "little")
_HEAD = 32  # a pickle's PROTO and FRAME opcodes come before the magic number


def _head(source: str | os.PathLike[str] | IO[bytes]) -> bytes:
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as f:
            return f.read(_HEAD)
    where = source.tell()
    head = source.read(_HEAD)
    source.seek(where)
    return head


def _is_torch_head(head: bytes) -> bool:
    return head.startswith(ZIP_MAGIC) or (head[:1] == b"\x80" and _LEGACY_MAGIC in head)


def is_torch_file(source: str | os.PathLike[str] | IO[bytes]) -> bool:
    """Whether a file (a path, or a seekable binary file left where it was) starts as a file
    torch.save writes: a zip archive or the legacy pickle with torch's magic number. Checked
    before unpickling, so random bytes are called what they are."""
    return _is_torch_head(_head(source))


# Checkpoints often wrap the state dict: {"state_dict": ..., "epoch": ...}.
_WRAPPERS = ("state_dict", "model_state_dict", "model")


def _as_state_dict(loaded: object) -> OrderedDict[str, torch.Tensor] | None:
    if not isinstance(loaded, Mapping) or not loaded:
        return None
    if all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in loaded.items()):
        return OrderedDict(loaded)
    for key in _WRAPPERS:
        if key in loaded:
            return _as_state_dict(loaded[key])
    return None


def load_state_dict_file(
    path: str | os.PathLike[str],
    max_bytes: int = limits.WEIGHTS_FILE_BYTES.high,
    *,
    mmap: bool = False,
) -> OrderedDict[str, torch.Tensor]:
    """The state dict (name -> tensor, on the CPU) in a file; BadWeightsFile otherwise.

    In order, each before any byte past the first 32 is read: the file exists, its size is
    within max_bytes (os.stat), it is a file torch.save writes. The messages name the file,
    never the folder it is in (a page must not show the server's paths). mmap: map a zip
    archive's tensors instead of reading them (what a check of names and shapes needs).
    """
    path = Path(path)
    if not path.is_file():
        raise BadWeightsFile(f"There is no weights file {path.name!r}.")
    size = path.stat().st_size
    if size > max_bytes:
        raise BadWeightsFile(
            f"The weights file is {megabytes(size)}: the limit is {megabytes(max_bytes)}."
        )
    head = _head(path)
    if not _is_torch_head(head):
        raise BadWeightsFile("This file is not a PyTorch weights file.")
    zipped = head.startswith(ZIP_MAGIC)  # torch.load maps zip archives only
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True, mmap=mmap and zipped)
    except pickle.UnpicklingError:
        raise BadWeightsFile(
            "This file holds Python objects besides weights, which are not loaded for safety."
        ) from None
    except Exception:  # arbitrary bytes fail anywhere in the unpickler (IndexError, ...)
        raise BadWeightsFile("This file is not a PyTorch weights file.") from None
    state = _as_state_dict(loaded)
    if state is None:
        raise BadWeightsFile("This file holds no state dict (a mapping of layer names to tensors).")
    return state
