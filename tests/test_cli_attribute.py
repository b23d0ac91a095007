"""`python -m cnnviz attribute`: the JSON keys, the .npy files (captum's map for a batch of one,
the preprocessed input it explains) and exit status 2 with one line on bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from cnnviz.cli import main
from cnnviz.data import digits
from cnnviz.explain import default_model
from tests.explain_cases import default_net

KEYS = {"model", "method", "target", "input_shape", "map_shape", "prediction", "delta", "seconds"}


@pytest.fixture(scope="module")
def digit_png(tmp_path_factory) -> tuple[str, int]:
    data = digits(default_model.SIDE)
    k = int(default_model.split()[1][0])
    path = tmp_path_factory.mktemp("img") / "digit.png"
    Image.fromarray(data.images[k].permute(1, 2, 0).numpy()).save(path)
    return str(path), int(data.labels[k])


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["attribute", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("method", "map_shape"),
    [("saliency", [1, 1, 32, 32]), ("integrated_gradients", [1, 1, 32, 32]),
     ("gradcam", [1, 1, 5, 5]), ("occlusion", [1, 1, 32, 32])],
)  # fmt: skip
def test_json_keys_and_the_saved_arrays(capsys, tmp_path, digit_png, method, map_shape):
    image, label = digit_png
    out, inp = tmp_path / "map.npy", tmp_path / "input.npy"
    code, text, _ = run(
        capsys, "--image", image, "--method", method, "--out", str(out),
        "--save-input", str(inp), "--json", "--steps", "16",
    )  # fmt: skip
    assert code == 0
    doc = json.loads(text)
    assert doc.keys() >= KEYS
    assert doc["model"] == "lenet5_digits" and doc["method"] == method
    assert doc["target"] == label == int(doc["prediction"][0]["class"])  # predicted, correctly
    assert len(doc["prediction"]) == 5
    assert sum(p["probability"] for p in doc["prediction"]) <= 1 + 1e-6
    assert doc["input_shape"] == [1, 1, 32, 32] and doc["map_shape"] == map_shape
    attr, x = np.load(out), np.load(inp)
    assert list(attr.shape) == map_shape and list(x.shape) == doc["input_shape"]
    assert (doc["delta"] is not None) == (method == "integrated_gradients")
    if method == "saliency":  # the map explains the saved input: |d logit / d input| there
        t = torch.from_numpy(x).requires_grad_(True)
        (grad,) = torch.autograd.grad(default_net()(t)[0, label], t)
        np.testing.assert_allclose(attr, grad.abs().numpy(), rtol=1e-5, atol=1e-7)
    if method == "integrated_gradients":  # completeness against the zero baseline
        with torch.no_grad():
            t = torch.from_numpy(x)
            gap = float(default_net()(t)[0, label] - default_net()(torch.zeros_like(t))[0, label])
        assert abs(attr.sum() - gap) <= doc["delta"] + 1e-4


def test_target_by_index_or_name_and_a_chosen_layer(capsys, tmp_path, digit_png):
    image, _ = digit_png
    out = str(tmp_path / "m.npy")
    base = ["--image", image, "--method", "gradcam", "--out", out, "--json"]
    code, text, _ = run(capsys, *base, "--target", "7", "--layer", "c3")
    doc = json.loads(text)
    assert code == 0 and doc["target"] == 7 and doc["map_shape"] == [1, 1, 10, 10]
    assert doc["layer"] == "c3"


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--method", "gradcam", "--layer", "c9"], "no layer 'c9'"),
        (["--method", "saliency", "--target", "10"], "Class 10 is outside"),
        (["--method", "saliency", "--model", "nope"], "no model 'nope'"),
        (["--method", "saliency", "--image-size", "64"], "32x32 images only"),
        (["--method", "saliency", "--model", "resnet18"], "not on disk"),
    ],
)
def test_bad_model_layer_or_target_exit_2_with_one_line(capsys, tmp_path, digit_png, args, words):
    image, _ = digit_png
    code, out, err = run(capsys, "--image", image, "--out", str(tmp_path / "m.npy"), *args)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("error: ") and words in err
    assert not (tmp_path / "m.npy").exists()


def test_bad_image_exits_2_with_one_line(capsys, tmp_path):
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    for image in (str(text), str(tmp_path / "missing.png")):
        code, _, err = run(capsys, "--image", image, "--method", "saliency", "--out", "m.npy")
        assert code == 2 and err.count("\n") == 1 and err.startswith("error: ")


def test_a_fine_tuned_model_file(capsys, tmp_path):
    """--trained reads cnnviz.train's file and preprocesses with its saved preprocessing."""
    import torchvision

    from cnnviz import images
    from cnnviz.train import export

    torch.manual_seed(0)
    net = torchvision.models.resnet18(num_classes=2)
    saved = tmp_path / "model.pt"
    prep = {"image_size": 64, "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]}
    torch.save(
        {"format": export.FORMAT, "backbone": "resnet18", "classes": ["cat", "dog"],
         "preprocessing": prep, "state_dict": net.state_dict()},
        saved,
    )  # fmt: skip
    photo = tmp_path / "coffee.png"
    Image.fromarray(images.photo("Coffee")).save(photo)
    out, inp = tmp_path / "m.npy", tmp_path / "x.npy"
    code, text, _ = run(
        capsys, "--trained", str(saved), "--image", str(photo), "--method", "gradcam",
        "--target", "dog", "--out", str(out), "--save-input", str(inp), "--json",
    )  # fmt: skip
    assert code == 0
    doc = json.loads(text)
    assert doc["model"] == "resnet18" and doc["target"] == 1 and doc["target_class"] == "dog"
    assert doc["input_shape"] == [1, 3, 64, 64] and doc["map_shape"] == [1, 1, 2, 2]
    trained = export.load_trained(saved)
    x = trained.preprocess(torch.from_numpy(images.photo("Coffee")).permute(2, 0, 1)[None])
    np.testing.assert_allclose(np.load(inp), x.numpy(), rtol=1e-6)
    assert [p["class"] for p in doc["prediction"]] in (["cat", "dog"], ["dog", "cat"])
    (tmp_path / "junk.pt").write_bytes(b"junk")
    code, _, err = run(capsys, "--trained", str(tmp_path / "junk.pt"), "--image", str(photo),
                       "--method", "saliency", "--out", str(out))  # fmt: skip
    assert code == 2 and err.count("\n") == 1 and "not a model saved by this app" in err
