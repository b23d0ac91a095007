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
        (["--method", "saliency", "--model", "resnet18"], "not on this server"),
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


# --- attribute --weights FILE: every kind of model ------------------------------------------
SIDE = 64  # small inputs: every network answers in well under a second


def architecture(name: str) -> torch.nn.Module:
    """The oracle's network: torchvision's (or the registry's LeNet-5), built independently of
    cnnviz.explain."""
    import torchvision

    if name == "lenet5_digits":
        return default_model.build()
    aux = {"aux_logits": False, "init_weights": False} if name == "googlenet" else {}
    return torchvision.models.get_model(name, weights=None, **aux)


def random_state(name: str, dtype: torch.dtype = torch.float32) -> dict[str, torch.Tensor]:
    """The architecture's state dict filled with seeded random values (not its initialization:
    distinct logits, so the prediction says whether the weights were loaded)."""
    g = torch.Generator().manual_seed(1)
    state = {}
    with torch.device("meta"):  # shapes only: no time spent initializing what is replaced
        shapes = architecture(name).state_dict()
    for key, value in shapes.items():
        if "running_var" in key:  # positive
            value = torch.rand(value.shape, generator=g) + 0.5
        elif value.is_floating_point():
            value = torch.randn(value.shape, generator=g) * 0.05
        elif value.device.type == "meta":  # an integer buffer (num_batches_tracked)
            value = torch.zeros(value.shape, dtype=value.dtype)
        state[key] = value.to(dtype) if value.is_floating_point() else value
    return state


@pytest.fixture(scope="module")
def photo_png(tmp_path_factory) -> str:
    from cnnviz import images

    path = tmp_path_factory.mktemp("photo") / "coffee.png"
    Image.fromarray(images.photo("Coffee")).save(path)
    return str(path)


# One of every family the CLI explains: the default LeNet-5, the registry's torchvision models
# (ResNet, GoogLeNet, AlexNet, VGG) and the transfer backbones the registry lacks. AlexNet's and
# VGG's files are saved in half precision (a real checkpoint format): half the bytes to write.
KINDS = [
    ("lenet5_digits", torch.float32),
    ("resnet18", torch.float32),
    ("googlenet", torch.float32),
    ("alexnet", torch.float16),
    ("vgg11", torch.float16),
    ("mobilenet_v3_small", torch.float32),
    ("efficientnet_b0", torch.float32),
]


@pytest.mark.parametrize(("name", "dtype"), KINDS, ids=[k[0] for k in KINDS])
def test_weights_file_for_every_kind_of_model(capsys, tmp_path, digit_png, photo_png, name, dtype):
    state = random_state(name, dtype)
    weights = tmp_path / f"{name}.pt"
    torch.save(state, weights)
    lenet = name == "lenet5_digits"
    image = digit_png[0] if lenet else photo_png
    size = [] if lenet else ["--image-size", str(SIDE)]
    out, inp = tmp_path / "m.npy", tmp_path / "x.npy"
    code, text, err = run(
        capsys, "--model", name, "--weights", str(weights), "--image", image, *size,
        "--method", "saliency", "--out", str(out), "--save-input", str(inp), "--json",
    )  # fmt: skip
    assert code == 0, err
    doc = json.loads(text)
    shape = [1, 1, 32, 32] if lenet else [1, 3, SIDE, SIDE]
    assert doc["model"] == name and doc["input_shape"] == shape and doc["map_shape"] == shape
    # The oracle: the same file in torchvision's network explains the saved input the same way.
    with torch.device("meta"):
        net = architecture(name)
    net.load_state_dict(
        {k: v.float() if v.is_floating_point() else v for k, v in state.items()}, assign=True
    )
    net.eval()
    x = torch.from_numpy(np.load(inp)).requires_grad_(True)
    logits = net(x)
    probs = torch.softmax(logits, 1)[0].detach()
    best = int(probs.argmax())
    assert doc["target"] == best and doc["prediction"][0]["probability"] == pytest.approx(
        float(probs[best]), rel=1e-4
    )
    (grad,) = torch.autograd.grad(logits[0, best], x)
    np.testing.assert_allclose(np.load(out), grad.abs().numpy(), rtol=1e-3, atol=1e-6)
    if lenet:
        assert doc["prediction"][0]["class"] in [str(d) for d in range(10)]


def test_weights_file_written_by_the_default_model_brings_its_preprocessing(
    capsys, tmp_path, digit_png
):
    """A document like assets/lenet5_digits.pt (state dict, classes, mean and std) is read with
    its own preprocessing."""
    doc = default_model.load_document()
    doc["preprocessing"] = {**doc["preprocessing"], "mean": 0.25, "std": 0.5}
    saved = tmp_path / "lenet.pt"
    torch.save(doc, saved)
    inp = tmp_path / "x.npy"
    code, _, err = run(
        capsys, "--model", "lenet5_digits", "--weights", str(saved), "--image", digit_png[0],
        "--method", "saliency", "--out", str(tmp_path / "m.npy"), "--save-input", str(inp),
    )  # fmt: skip
    assert code == 0, err
    raw = torch.from_numpy(np.array(Image.open(digit_png[0]).convert("RGB"))).permute(2, 0, 1)
    expected = (raw.float().mean(0) / 255.0 - 0.25) / 0.5
    np.testing.assert_allclose(np.load(inp)[0, 0], expected.numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    ("model", "saved_from", "words"),
    [
        ("mobilenet_v3_small", "resnet18", "does not fit mobilenet_v3_small"),
        ("resnet18", "lenet5_digits", "122 are missing"),
        ("lenet5_digits", "resnet18", "does not fit lenet5_digits"),
        ("resnet18", "resnet34", "does not fit resnet18"),
        ("resnet18", "resnet18 with 10 classes", "2 have another shape, and the file holds 0"),
    ],
)
def test_a_weights_file_for_another_model_exits_2_with_one_line(
    capsys, tmp_path, digit_png, photo_png, model, saved_from, words
):
    import torchvision

    if saved_from == "resnet18 with 10 classes":
        state = torchvision.models.resnet18(num_classes=10).state_dict()
    else:
        state = architecture(saved_from).state_dict()
    weights = tmp_path / "other.pt"
    torch.save(state, weights)
    image = digit_png[0] if model == "lenet5_digits" else photo_png
    out = tmp_path / "m.npy"
    code, text, err = run(capsys, "--model", model, "--weights", str(weights), "--image", image,
                          "--method", "saliency", "--out", str(out))  # fmt: skip
    assert code == 2 and text == "" and not out.exists()
    assert err.count("\n") == 1 and err.startswith("error: ") and "Traceback" not in err
    assert words in err and "other.pt" in err
    if saved_from == "resnet18 with 10 classes":  # a fine-tuned head: the shapes say so
        assert "first: 'fc.weight', 10x512 in the file, 1000x512 in resnet18" in err


def test_a_weights_file_over_the_limit_is_refused_before_it_is_read(
    capsys, tmp_path, photo_png, monkeypatch
):
    from cnnviz.data import limits

    big = tmp_path / "huge.pt"
    with big.open("wb") as f:  # sparse: no disk space, but stat() gives its size
        f.truncate(limits.WEIGHTS_FILE_BYTES.high + 1)

    def no_reading(*args, **kwargs):
        raise AssertionError("the file was read")

    monkeypatch.setattr(torch, "load", no_reading)
    code, _, err = run(capsys, "--model", "resnet18", "--weights", str(big), "--image", photo_png,
                       "--method", "saliency", "--out", str(tmp_path / "m.npy"))  # fmt: skip
    assert code == 2 and err.count("\n") == 1 and "the limit is" in err
    monkeypatch.undo()
    (tmp_path / "junk.pt").write_bytes(b"junk")
    for file, words in (("junk.pt", "not a PyTorch weights file"), ("gone.pt", "no weights file")):
        out = str(tmp_path / "m.npy")
        code, _, err = run(capsys, "--model", "resnet18", "--weights", str(tmp_path / file),
                           "--image", photo_png, "--method", "saliency", "--out", out)  # fmt: skip
        assert code == 2 and err.count("\n") == 1 and words in err


def test_weights_for_a_model_without_torchvision_weights_exit_2(capsys, tmp_path, photo_png):
    weights = tmp_path / "w.pt"
    torch.save({"w": torch.zeros(1)}, weights)
    out = str(tmp_path / "m.npy")
    code, _, err = run(capsys, "--model", "lenet5", "--weights", str(weights), "--image",
                       photo_png, "--method", "saliency", "--out", out)  # fmt: skip
    assert code == 2 and err.count("\n") == 1 and "no model 'lenet5'" in err


def test_smoothgrad_with_the_same_seed_writes_the_same_map(capsys, tmp_path, digit_png):
    image, _ = digit_png
    maps = []
    for seed, name in (("3", "a"), ("3", "b"), ("4", "c")):
        out = tmp_path / f"{name}.npy"
        code, *_ = run(capsys, "--image", image, "--method", "smoothgrad", "--samples", "8",
                       "--seed", seed, "--out", str(out))  # fmt: skip
        assert code == 0
        maps.append(np.load(out))
    assert np.array_equal(maps[0], maps[1]) and not np.allclose(maps[0], maps[2])


def test_a_seed_out_of_range_exits_2(capsys, tmp_path, digit_png):
    image, _ = digit_png
    code, out, err = run(capsys, "--image", image, "--method", "smoothgrad", "--seed", "-1",
                         "--out", str(tmp_path / "m.npy"))  # fmt: skip
    assert code == 2 and out == "" and "seed" in err and err.count("\n") == 1
