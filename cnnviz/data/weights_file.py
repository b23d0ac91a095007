"""Weight files from users: read with torch.load(weights_only=True) only, which unpickles
tensors and plain containers but never runs code a file brings along."""

from __future__ import annotations

import os
import pickle
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path

import torch

from cnnviz import limits
from cnnviz.errors import BadWeightsFile
from cnnviz.notation import megabytes

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
    path: str | os.PathLike[str], max_bytes: int = limits.WEIGHTS_FILE_BYTES.high
) -> OrderedDict[str, torch.Tensor]:
    """The state dict (name -> tensor, on the CPU) in a file; BadWeightsFile otherwise."""
    path = Path(path)
    if not path.is_file():
        raise BadWeightsFile(f"There is no weights file {str(path)!r}.")
    size = path.stat().st_size
    if size > max_bytes:
        raise BadWeightsFile(
            f"The weights file is {megabytes(size)}: the limit is {megabytes(max_bytes)}."
        )
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
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
