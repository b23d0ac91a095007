"""Weight files from users: only tensors are read (torch.load weights_only=True); anything else
is refused with a clear reason and runs no code."""

from __future__ import annotations

import builtins
from pathlib import Path

import pytest
import torch

from cnnviz.data import load_state_dict_file
from cnnviz.errors import BadWeightsFile


def saved(tmp_path: Path, obj: object, name: str = "weights.pt") -> Path:
    path = tmp_path / name
    torch.save(obj, path)
    return path


def test_a_state_dict_and_a_wrapped_checkpoint(tmp_path: Path) -> None:
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
    state = model.state_dict()
    for obj in (state, {"state_dict": state, "epoch": 3, "classes": ["a", "b"]}):
        loaded = load_state_dict_file(saved(tmp_path, obj))
        assert list(loaded) == list(state)
        assert all(loaded[k].equal(v) for k, v in state.items())
    fresh = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
    fresh.load_state_dict(load_state_dict_file(saved(tmp_path, state)))


class Payload:
    """Unpickling this calls open(marker, 'w'): proof that code in a file never runs."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (builtins.open, (str(self.marker), "w"))


def test_code_in_the_file_never_runs(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    path = saved(tmp_path, {"weight": torch.zeros(2), "evil": Payload(marker)})
    with pytest.raises(BadWeightsFile, match="Python objects"):
        load_state_dict_file(path)
    assert not marker.exists()


def test_a_whole_pickled_model_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BadWeightsFile, match="Python objects"):
        load_state_dict_file(saved(tmp_path, torch.nn.Linear(2, 2)))


@pytest.mark.parametrize(
    ("content", "says"),
    [({"lr": 0.1, "epoch": 3}, "no state dict"), ({}, "no state dict"), ([1, 2], "no state dict")],
)
def test_not_a_state_dict(tmp_path: Path, content: object, says: str) -> None:
    with pytest.raises(BadWeightsFile, match=says):
        load_state_dict_file(saved(tmp_path, content))


def test_not_a_torch_file_and_too_large(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"this is not a checkpoint")
    with pytest.raises(BadWeightsFile, match="not a PyTorch weights file"):
        load_state_dict_file(junk)
    with pytest.raises(BadWeightsFile, match="no weights file"):
        load_state_dict_file(tmp_path / "missing.pt")
    with pytest.raises(BadWeightsFile, match="the limit is"):
        load_state_dict_file(saved(tmp_path, {"w": torch.zeros(1000)}), max_bytes=100)
