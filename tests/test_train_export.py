"""A trained model as one file: save_trained -> load_trained -> predict gives the in-memory
model's outputs; torchvision alone (the download's snippet) loads it too; other files are
refused without running anything they hold."""

from __future__ import annotations

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
from cnnviz.train.result import FinetuneResult

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
