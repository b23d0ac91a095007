"""Pretrained weights through torchvision's own loading code, from a file under TORCH_HOME."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torchvision

from cnnviz import registry
from cnnviz.weights import (
    NoPretrainedWeights,
    WeightsMissing,
    load_pretrained,
    missing_message,
    untrained,
    weights_available,
    weights_file,
)


@pytest.fixture
def torch_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    return tmp_path


def test_weights_file_is_where_torchvision_looks(torch_home: Path) -> None:
    assert weights_file("resnet18") == torch_home / "hub" / "checkpoints" / "resnet18-f37072fd.pth"
    assert weights_file("vgg16_bn").name == "vgg16_bn-6c64b313.pth"
    assert weights_file("alexnet").name == "alexnet-owt-7be5be79.pth"


def test_missing_weights_name_the_file_and_the_command_not_the_folder(torch_home: Path) -> None:
    assert not weights_available("resnet18")
    with pytest.raises(WeightsMissing) as info:
        load_pretrained("resnet18")
    message = str(info.value)
    assert "resnet18-f37072fd.pth" in message and "fetch-weights resnet18" in message
    assert str(torch_home) not in message  # pages show it: no server path
    assert message == missing_message("resnet18")
    assert not (torch_home / "hub" / "checkpoints" / "resnet18-f37072fd.pth").exists()


def test_models_without_torchvision_weights(torch_home: Path) -> None:
    assert not weights_available("alexnet_lecture")
    with pytest.raises(NoPretrainedWeights):
        load_pretrained("lenet5")
    assert "no pretrained weights" in missing_message("inception_naive")


def _save(state: dict[str, torch.Tensor], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)


def test_load_pretrained_reads_the_file(torch_home: Path) -> None:
    torch.manual_seed(1)
    state = registry.build("resnet18").state_dict()
    _save(state, weights_file("resnet18"))
    assert weights_available("resnet18")
    model = load_pretrained("resnet18")
    assert not model.training
    loaded = model.state_dict()
    assert loaded.keys() == state.keys()
    assert all(torch.equal(loaded[k], state[k]) for k in state)


def test_load_pretrained_googlenet_matches_the_app_model(torch_home: Path) -> None:
    # torchvision's file holds the auxiliary heads; its loader drops them afterwards.
    torch.manual_seed(2)
    full = torchvision.models.googlenet(weights=None, aux_logits=True, init_weights=False)
    state = full.state_dict()
    _save(state, weights_file("googlenet"))
    model = load_pretrained("googlenet")
    assert model.aux1 is None and model.transform_input
    app = registry.build("googlenet")
    loaded = model.state_dict()
    assert loaded.keys() == app.state_dict().keys()
    assert all(torch.equal(v, state[k]) for k, v in loaded.items())


def test_untrained_is_seeded() -> None:
    lenet = registry.get("lenet5")
    a, b = untrained(lenet, seed=3), untrained(lenet, seed=3)
    c = untrained(lenet, seed=4)
    assert torch.equal(a.c1.weight, b.c1.weight) and not torch.equal(a.c1.weight, c.c1.weight)
    assert not a.training


def test_app_weights_lists_every_usable_file_once(torch_home: Path) -> None:
    from cnnviz.train import BACKBONES
    from cnnviz.weights import app_weights

    names = app_weights(BACKBONES)
    tv = {n for n in registry.names() if registry.get(n).torchvision_name}
    assert set(names) == set(BACKBONES) | tv
    assert names[: len(BACKBONES)] == list(BACKBONES)
    files = [weights_file(n) for n in names]
    assert len(set(files)) == len(files)


def test_weights_status_sees_a_file_placed_in_the_cache(torch_home: Path) -> None:
    from cnnviz.weights import weights_status

    path = weights_file("alexnet")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\0" * 2_000_000)
    rows = {r["model"]: r for r in weights_status(["resnet18", "alexnet"])}
    assert rows["alexnet"] == {"model": "alexnet", "present": True, "file": path.name, "MB": 2}
    assert rows["resnet18"]["present"] is False and rows["resnet18"]["MB"] is None
    assert weights_available("alexnet")
