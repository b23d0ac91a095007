"""Weight files from users: only tensors are read (torch.load weights_only=True); anything else
is refused with a clear reason and runs no code."""

from __future__ import annotations

import builtins
import io
from pathlib import Path

import pytest
import torch

from cnnviz.data import load_state_dict_file
from cnnviz.data.weights_file import is_torch_file
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


# --- the format, checked before unpickling ---------------------------------------------------
@pytest.mark.parametrize("seed", range(8))
def test_random_bytes_are_not_a_weights_file_and_are_never_unpickled(
    tmp_path: Path, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """5,000 random bytes: before the format check, most of them got "Python objects besides
    weights" from the unpickler (seeds 0-6 of 8 here)."""
    path = tmp_path / "random.pt"
    path.write_bytes(torch.randint(0, 256, (5_000,), generator=torch.Generator().manual_seed(seed))
                     .to(torch.uint8).numpy().tobytes())  # fmt: skip
    assert not is_torch_file(path)

    def no_unpickling(*args: object, **kwargs: object) -> None:
        raise AssertionError("torch.load ran")

    monkeypatch.setattr(torch, "load", no_unpickling)
    with pytest.raises(BadWeightsFile, match="not a PyTorch weights file"):
        load_state_dict_file(path)


def test_both_formats_torch_saves_are_weights_files(tmp_path: Path) -> None:
    """The zip archive and the legacy pickle (torch.save's default protocol 2) load; legacy
    files of later protocols pass the format check too (torch's own unpickler then decides);
    a legacy file with a whole module is refused by the unpickler, for what it is."""
    state = torch.nn.Linear(3, 2).state_dict()
    for zipped, protocol in ((True, 2), (False, 2), (False, 4), (False, 5)):
        path = tmp_path / f"w-{zipped}-{protocol}.pt"
        torch.save(state, path, _use_new_zipfile_serialization=zipped, pickle_protocol=protocol)
        assert is_torch_file(path)
        if protocol == 2:
            loaded = load_state_dict_file(path)
            assert list(loaded) == list(state)
            assert all(torch.equal(loaded[k], v) for k, v in state.items())
    module = tmp_path / "module.pt"
    torch.save(torch.nn.Linear(2, 2), module, _use_new_zipfile_serialization=False)
    with pytest.raises(BadWeightsFile, match="Python objects"):
        load_state_dict_file(module)


def test_the_format_check_reads_a_stream_and_leaves_it_where_it_was(tmp_path: Path) -> None:
    buffer = io.BytesIO(b"xyz")  # a torch file from the reader's position on, as torch.load
    buffer.seek(3)
    torch.save({"w": torch.ones(2)}, buffer)
    buffer.seek(3)
    assert is_torch_file(buffer) and buffer.tell() == 3
    assert not is_torch_file(io.BytesIO(b"\x80\x02not torch's magic number"))


def test_mapped_tensors_equal_the_read_ones(tmp_path: Path) -> None:
    state = torch.nn.Conv2d(3, 8, 3).state_dict()
    path = saved(tmp_path, state)
    mapped = load_state_dict_file(path, mmap=True)
    assert all(torch.equal(mapped[k], v) for k, v in state.items())


def test_messages_name_the_file_not_its_folder(tmp_path: Path) -> None:
    folder = tmp_path / "session-folder"
    with pytest.raises(BadWeightsFile) as info:
        load_state_dict_file(folder / "gone.pt")
    assert "gone.pt" in str(info.value) and str(folder) not in str(info.value)
