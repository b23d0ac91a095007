"""A trained model as one file: save_trained -> load_trained -> predict gives the in-memory
model's outputs; torchvision alone (the download's snippet) loads it too; other files are
refused without running anything they hold."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from train_cases import Recorder, one_thread, tiny  # noqa: F401

from cnnviz.data import normalize
from cnnviz.errors import BadWeightsFile
from cnnviz.train import FinetuneConfig, finetune, load_trained, predict, save_trained, snippet
from cnnviz.train.result import FinetuneResult, file_name

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def result() -> FinetuneResult:
    torch.set_num_threads(1)
    config = FinetuneConfig(
        backbone="resnet18", weights="none", strategy="last", epochs=1, image_size=16,
        batch_size=4, seed=3,
    )  # fmt: skip
    return finetune(tiny(classes=3), config, report=Recorder())


def _oracle_logits(result: FinetuneResult, images: torch.Tensor) -> torch.Tensor:
    """torchvision's resnet18 with the result's weights, on inputs normalized by hand."""
    model = torchvision.models.resnet18(num_classes=3)
    model.load_state_dict(result.state_dict)
    with torch.no_grad():
        return model.eval()(normalize(images))


def test_export_load_predict_equal_the_in_memory_model(
    result: FinetuneResult, tmp_path: Path
) -> None:
    images = tiny(n_per_class=2, classes=3, side=16, seed=9).images
    expected = torch.softmax(_oracle_logits(result, images), dim=1)
    path = tmp_path / "model.pt"
    save_trained(result, path)
    loaded = load_trained(path)
    assert loaded.classes == ["c0", "c1", "c2"]
    assert (loaded.backbone, loaded.image_size) == ("resnet18", 16)
    assert not loaded.model.training
    for trained in (loaded, result.trained()):
        tops = predict(trained, images, top=3)
        for row, probs in zip(tops, expected, strict=True):
            assert [c for c, _ in row] == [f"c{int(i)}" for i in probs.argsort(descending=True)]
            torch.testing.assert_close(
                torch.tensor([p for _, p in row]), probs.sort(descending=True).values
            )
    assert len(predict(loaded, images, top=10)[0]) == 3  # at most the number of classes


def test_a_buffer_and_larger_images_work_too(result: FinetuneResult) -> None:
    buffer = io.BytesIO()
    save_trained(result, buffer)
    trained = load_trained(buffer.getvalue())
    big = torch.nn.functional.interpolate(
        tiny(n_per_class=1, classes=3).images.float(), size=(48, 48), mode="nearest"
    ).to(torch.uint8)
    assert trained.preprocess(big).shape == (3, 3, 16, 16)


def test_the_snippet_loads_the_file_without_cnnviz(result: FinetuneResult, tmp_path: Path) -> None:
    path = tmp_path / "model.pt"
    save_trained(result, path)
    scope: dict[str, object] = {}
    exec(snippet(str(path)), scope)
    images = tiny(n_per_class=1, classes=3, seed=2).images
    with torch.no_grad():
        got = scope["model"](normalize(images))  # type: ignore[operator]
    torch.testing.assert_close(got, _oracle_logits(result, images))


class Payload:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (print, ("code ran",))


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"not a model", "not a model saved by this app"),
        ({"state_dict": {"w": torch.zeros(1)}}, "not a model saved by this app"),
        ({"payload": Payload()}, "Python objects"),
    ],
)
def test_other_files_are_refused(
    tmp_path: Path, content: object, match: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "other.pt"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        torch.save(content, path)
    with pytest.raises(BadWeightsFile, match=match):
        load_trained(path)
    assert "code ran" not in capsys.readouterr().out


def test_image_tensor_crops_the_center_square(result: FinetuneResult) -> None:
    # Oracle: a 30 x 60 picture whose center square is white, its sides black.
    picture = np.zeros((30, 60, 3), np.uint8)
    picture[:, 15:45] = 255
    tensor = result.trained().image_tensor(picture)
    assert tensor.shape == (3, 16, 16) and tensor.dtype == torch.uint8
    assert int(tensor.min()) == 255


def test_the_file_records_how_the_model_was_trained(result: FinetuneResult) -> None:
    buffer = io.BytesIO()
    save_trained(result, buffer)
    saved = torch.load(io.BytesIO(buffer.getvalue()), weights_only=True)
    # the fixture's run: resnet18, random weights, the last block, one epoch, seed 3
    assert saved["strategy"] == "last" and saved["last_blocks"] == 1
    assert saved["weights"] == "none" and saved["epochs"] == 1 and saved["seed"] == 3
    assert saved["val_accuracy"] == result.val_accuracy is not None
    assert saved["train_accuracy"] == result.train_accuracy
    loaded = load_trained(buffer.getvalue())
    assert (loaded.strategy, loaded.weights) == ("last", "none")
    assert loaded.val_accuracy == result.val_accuracy
    trained = result.trained()
    assert (trained.strategy, trained.weights, trained.val_accuracy) == (
        "last", "none", result.val_accuracy,
    )  # fmt: skip


def test_a_weights_file_is_recorded_by_its_name_only(result: FinetuneResult) -> None:
    config = dataclasses.replace(result.config, weights="/srv/cnnviz/tmp/ab12/weights/sd.pt")
    from_file = dataclasses.replace(result, config=config)
    buffer = io.BytesIO()
    save_trained(from_file, buffer)
    assert load_trained(buffer.getvalue()).weights == "sd.pt"
    save_trained(from_file, buffer := io.BytesIO(), weights="my fractals.pth")  # the upload's
    assert load_trained(buffer.getvalue()).weights == "my fractals.pth"
    assert from_file.trained().weights == "sd.pt"


def test_a_file_saved_before_these_keys_still_loads(result: FinetuneResult) -> None:
    buffer = io.BytesIO()
    old_keys = ("format", "backbone", "classes", "preprocessing", "state_dict")
    save_trained(result, buffer)
    saved = torch.load(io.BytesIO(buffer.getvalue()), weights_only=True)
    torch.save({k: saved[k] for k in old_keys}, old := io.BytesIO())
    loaded = load_trained(old.getvalue())
    assert loaded.classes == ["c0", "c1", "c2"]
    assert (loaded.strategy, loaded.weights, loaded.val_accuracy) == (None, None, None)


@pytest.mark.parametrize(
    ("weights", "strategy", "accuracy", "expected"),
    [
        ("imagenet", "linear", 0.875, "resnet18_imagenet_linear_val87.5pct.pt"),
        ("none", "last", 1.0, "resnet18_none_last1_val100.0pct.pt"),
        ("synthetic", "full", 0.5, "resnet18_synthetic_full_val50.0pct.pt"),
        ("/srv/x/my weights.pth", "full", 0.25, "resnet18_my-weights_full_val25.0pct.pt"),
        ("imagenet", "linear", None, "resnet18_imagenet_linear_noval.pt"),
    ],
)
def test_the_file_is_named_after_what_it_is(
    result: FinetuneResult, weights: str, strategy: str, accuracy: float | None, expected: str
) -> None:
    config = dataclasses.replace(result.config, weights=weights, strategy=strategy)
    named = dataclasses.replace(result, config=config, val_accuracy=accuracy)
    assert file_name(named) == expected
