"""Backbones: torchvision's real weight-loading path (a random state dict where torchvision's
cache expects the file), seeded random initialization, a student's weights file, the limits
of a configuration, and the lecture's 2x2 table."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch
import torchvision

from cnnviz.errors import (
    BadWeightsFile,
    InputTooSmall,
    OutOfBounds,
    UnknownDevice,
    UnknownModel,
    WeightsMissing,
)
from cnnviz.train import BACKBONES, FinetuneConfig, backbone_weights_status, backbones, recommend
from cnnviz.train.advice import SMALL_BELOW
from cnnviz.train.backbones import build, check_weights_file, head_of, spec
from cnnviz.weights import weights_file


@pytest.fixture
def torch_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    return tmp_path


def _place_random_weights(name: str, seed: int = 5) -> dict[str, torch.Tensor]:
    """torchvision's own architecture (1000 classes) with random values, saved where
    torchvision's weights API reads it."""
    torch.manual_seed(seed)
    state = torchvision.models.get_model(name, weights=None).state_dict()
    path = weights_file(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    return state


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v3_small"])
def test_imagenet_weights_load_through_torchvision(torch_home: Path, name: str) -> None:
    assert not backbone_weights_status(spec(name))[0]
    state = _place_random_weights(name)
    available, message = backbone_weights_status(spec(name))
    assert available and weights_file(name).name in message
    assert str(weights_file(name).parent) not in message  # the file, not where it lives
    assert weights_file(name).parent == torch_home / "hub" / "checkpoints"
    model = build(spec(name), "imagenet", 3)
    head = spec(name).head + "."
    loaded = model.state_dict()
    body = [k for k in state if not k.startswith(head)]
    assert body and all(torch.equal(loaded[k], state[k]) for k in body)
    assert head_of(model, spec(name)).weight.shape == (3, state[head + "weight"].shape[1])


def test_missing_weights_name_the_file_and_the_fetch_command(torch_home: Path) -> None:
    with pytest.raises(WeightsMissing) as info:
        build(spec("efficientnet_b0"), "imagenet", 2)
    assert weights_file("efficientnet_b0").name in str(info.value)
    assert "fetch-weights efficientnet_b0" in info.value.hint
    available, message = backbone_weights_status(spec("efficientnet_b0"))
    assert not available and "fetch-weights efficientnet_b0" in message


def test_random_initialization_is_seeded() -> None:
    a, b, c = (
        build(spec("resnet18"), "none", 2, 1),
        build(spec("resnet18"), "none", 2, 1),
        build(spec("resnet18"), "none", 2, 2),
    )
    assert torch.equal(a.conv1.weight, b.conv1.weight) and torch.equal(a.fc.weight, b.fc.weight)
    assert not torch.equal(a.conv1.weight, c.conv1.weight)


def test_weights_file_fills_every_layer_but_the_head(tmp_path: Path) -> None:
    torch.manual_seed(3)
    source = torchvision.models.resnet18(num_classes=7)  # another head: it is replaced
    path = tmp_path / "mine.pt"
    torch.save({"state_dict": source.state_dict(), "epoch": 3}, path)
    model = build(spec("resnet18"), str(path), 2)
    assert torch.equal(model.layer4[1].conv2.weight, source.layer4[1].conv2.weight)
    assert model.fc.weight.shape == (2, 512)


def test_weights_file_of_another_architecture_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "mobilenet.pt"
    torch.save(torchvision.models.mobilenet_v3_small().state_dict(), path)
    with pytest.raises(BadWeightsFile, match="does not fit resnet18"):
        build(spec("resnet18"), str(path), 2)


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("epochs", 0, OutOfBounds),
        ("epochs", 101, OutOfBounds),
        ("batch_size", 1, OutOfBounds),
        ("lr", 0.0, OutOfBounds),
        ("lr", float("nan"), OutOfBounds),
        ("val_fraction", 0.9, OutOfBounds),
        ("image_size", 8, OutOfBounds),
        ("last_blocks", 6, OutOfBounds),  # resnet18 has 5 blocks
        ("strategy", "half", OutOfBounds),
        ("backbone", "resnet50", UnknownModel),
        ("device", "cuda:7", UnknownDevice),
    ],
)
def test_config_refuses_values_outside_the_limits(field: str, value: object, error: type) -> None:
    with pytest.raises(error):
        FinetuneConfig(**{field: value})  # type: ignore[arg-type]


def test_config_refuses_an_input_a_backbone_cannot_take() -> None:
    with pytest.raises(InputTooSmall, match="at least 63"):
        FinetuneConfig(backbone="alexnet", image_size=32)
    FinetuneConfig(backbone="vgg16", image_size=32, strategy="last", last_blocks=15)


def test_every_backbone_has_a_linear_head_and_its_blocks() -> None:
    for name in BACKBONES:
        with torch.device("meta"):
            model = torchvision.models.get_model(name, num_classes=4)
        assert isinstance(model.get_submodule(spec(name).head), torch.nn.Linear)
        assert model.get_submodule(spec(name).head).out_features == 4
        for block in spec(name).blocks:
            for path in block:
                assert any(True for _ in model.get_submodule(path).parameters())


def test_recommendations_follow_the_lecture_table() -> None:
    small, large = SMALL_BELOW - 1, SMALL_BELOW
    assert recommend(small, True).strategy == "linear"
    assert recommend(small, False).strategy == "last"
    assert "overfit" in recommend(small, False).reason
    assert recommend(large, True).strategy == "last"
    assert recommend(large, False).strategy == "full"
    assert (recommend(small, True).size, recommend(large, True).size) == ("small", "large")


def test_batch_norm_from_scratch_follows_its_batches(torch_home: Path) -> None:
    # torchvision's MobileNetV3 keeps momentum 0.01 for ImageNet; from scratch, over a short
    # run, that left lfw's validation at chance (0.5 after 10 epochs; 1.0 from epoch 6 at 0.1).
    def momenta(model: torch.nn.Module) -> set[float | None]:
        return {m.momentum for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)}

    assert momenta(torchvision.models.mobilenet_v3_small()) == {0.01}
    assert momenta(build(spec("mobilenet_v3_small"), "none", 2)) == {0.1}
    _place_random_weights("mobilenet_v3_small")
    assert momenta(build(spec("mobilenet_v3_small"), "imagenet", 2)) == {0.01}


def _torch_says_it_fits(name: str, state: dict[str, torch.Tensor]) -> bool:
    """The oracle: torch's own load_state_dict into a real model, the head left out."""
    head = spec(name).head + "."
    model = torchvision.models.get_model(name, weights=None)
    body = {k: v for k, v in state.items() if not k.startswith(head)}
    try:
        missing = model.load_state_dict(body, strict=False).missing_keys
    except RuntimeError:  # a tensor of another shape
        return False
    return all(k.startswith(head) for k in missing)


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v3_small"])
def test_the_fit_check_on_the_meta_device_agrees_with_torch(tmp_path: Path, name: str) -> None:
    torch.manual_seed(0)
    state = torchvision.models.get_model(name, num_classes=7).state_dict()  # another head
    first = next(iter(state))
    other = "mobilenet_v3_small" if name == "resnet18" else "resnet18"
    cases = {
        "own": state,
        "reshaped": {**state, first: state[first][:, :2]},
        "dropped": {k: v for k, v in state.items() if k != first},
        "extra": {**state, "extra.weight": torch.zeros(3)},
        "other": torchvision.models.get_model(other).state_dict(),
    }
    verdicts = {}
    for case, candidate in cases.items():
        path = tmp_path / f"{case}.pt"
        torch.save(candidate, path)
        try:
            check_weights_file(spec(name), path)
            verdicts[case] = True
        except BadWeightsFile as err:
            assert f"does not fit {name}" in str(err)
            verdicts[case] = False
        assert verdicts[case] == _torch_says_it_fits(name, candidate), case
    assert verdicts == {
        "own": True,
        "reshaped": False,
        "dropped": False,
        "extra": True,
        "other": False,
    }


def test_the_fit_check_needs_no_memory_for_the_weights(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Checked against a model on the meta device, and the file's tensors mapped, not read."""
    path = tmp_path / "w.pt"
    torch.save(torchvision.models.resnet18().state_dict(), path)
    built = []
    real_get_model = torchvision.models.get_model

    def spy(*args, **kwargs):
        model = real_get_model(*args, **kwargs)
        built.append(next(model.parameters()).device.type)
        return model

    loads = []
    real_load = torch.load

    def load_spy(*args, **kwargs):
        loads.append(kwargs.get("mmap"))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torchvision.models, "get_model", spy)
    monkeypatch.setattr(torch, "load", load_spy)
    backbones._meta_template.cache_clear()  # built once per process: here, under the spy
    check_weights_file(spec("resnet18"), path)
    assert built == ["meta"] and loads == [True]


def test_a_config_carries_its_backbone_resolved_and_pickles() -> None:
    """The spec is resolved once, when the config is made; the config still crosses a process
    boundary (a job's argument) and its JSON names the backbone, as the CLI's contract says."""
    import pickle

    config = FinetuneConfig(backbone="mobilenet_v3_small", strategy="last", last_blocks=3)
    assert config.backbone_spec is spec("mobilenet_v3_small")
    again = pickle.loads(pickle.dumps(config))
    assert again == config and again.backbone_spec == spec("mobilenet_v3_small")
    doc = config.to_json()
    assert doc["backbone"] == "mobilenet_v3_small" and "backbone_spec" not in doc
    assert list(doc) == [
        "backbone", "weights", "strategy", "last_blocks", "epochs", "image_size", "batch_size",
        "lr", "head_lr_factor", "val_fraction", "seed", "device", "amp",
    ]  # fmt: skip
    assert dataclasses.replace(config, backbone="resnet18").backbone_spec is spec("resnet18")
