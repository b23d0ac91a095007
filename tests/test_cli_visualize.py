"""`python -m cnnviz visualize`: the PNG (its pixels excite the channel as much as the JSON
says, more than any validation digit), the JSON keys, the seed, and exit status 2 with one
line on bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image

from cnnviz import weights
from cnnviz.cli import main
from cnnviz.explain import models, reference_images

KEYS = {
    "model", "layer", "channel", "class", "seed", "steps", "side", "activation", "top_images",
    "max_validation_activation", "seconds", "out",
}  # fmt: skip


def run(capsys, *args: str) -> tuple[int, str, str]:
    try:
        code = main(["visualize", *args])
    except SystemExit as exit:  # argparse's own errors
        code = int(exit.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def channel_mean(picture: np.ndarray, layer: str, channel: int) -> float:
    """The oracle: model.preprocess and a forward hook, mean over the map."""
    return channel_means([picture], layer, channel)[0]


def channel_means(pictures: list[np.ndarray], layer: str, channel: int) -> list[float]:
    """channel_mean of each picture, in one batch."""
    model = models.default()
    x = torch.cat([model.preprocess(torch.from_numpy(np.ascontiguousarray(p))) for p in pictures])
    kept = []
    with model.borrow() as net:
        h = dict(net.named_modules())[layer].register_forward_hook(lambda _m, _i, o: kept.append(o))
        with torch.no_grad():
            net(x)
        h.remove()
    return kept[0][:, channel].mean(dim=(1, 2)).tolist()


def test_writes_the_png_and_the_json(capsys, tmp_path):
    out = tmp_path / "c3_4.png"
    code, text, err = run(capsys, "--layer", "c3", "--channel", "4", "--out", str(out),
                          "--steps", "160", "--top", "3", "--json")  # fmt: skip
    assert code == 0, err
    doc = json.loads(text)
    assert set(doc) == KEYS
    assert (doc["model"], doc["layer"], doc["channel"], doc["seed"], doc["steps"]) == (
        "lenet5_digits", "c3", 4, 0, 160)  # fmt: skip
    assert doc["out"] == str(out) and doc["class"] is None
    picture = np.array(Image.open(out))
    assert picture.shape == (32, 32, 3) and picture.dtype == np.uint8
    assert doc["activation"] == pytest.approx(channel_mean(picture, "c3", 4), abs=1e-5)
    digits = reference_images.digit_validation()[0]
    best = max(channel_means(list(digits), "c3", 4))
    assert doc["max_validation_activation"] == pytest.approx(best, abs=1e-5)
    assert doc["activation"] > best
    assert len(doc["top_images"]) == 3
    assert doc["top_images"][0]["activation"] == pytest.approx(best, abs=1e-5)
    assert "Optimizing" in err  # tqdm's bar on stderr


def test_a_class_and_the_seed(capsys, tmp_path):
    paths = [tmp_path / f"{i}.png" for i in range(3)]
    docs = []
    for path, seed in zip(paths, ("3", "3", "4"), strict=True):
        code, text, err = run(capsys, "--layer", "logits", "--channel", "7", "--out", str(path),
                              "--steps", "30", "--seed", seed, "--json")  # fmt: skip
        assert code == 0, err
        docs.append(json.loads(text))
    assert docs[0]["class"] == "7"
    pics = [np.array(Image.open(p)) for p in paths]
    assert np.array_equal(pics[0], pics[1]) and not np.array_equal(pics[0], pics[2])


def test_plain_output_is_one_line(capsys, tmp_path):
    code, text, _ = run(capsys, "--layer", "c1", "--channel", "0", "--steps", "5",
                        "--out", str(tmp_path / "c1.png"))  # fmt: skip
    assert code == 0
    assert text.count("\n") == 1 and "c1 channel 0" in text


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--layer", "c3", "--channel", "16"], "no channel of c3 16"),
        (["--layer", "logits", "--channel", "10"], "no class 10"),
        (["--layer", "c9", "--channel", "0"], "no layer 'c9'"),
        (["--layer", "c3", "--channel", "0", "--steps", "5000"], "optimization steps"),
        (["--layer", "c3", "--channel", "0", "--top", "99"], "top validation images"),
        (["--layer", "c3", "--channel", "0", "--side", "64"], "32x32"),
        (["--model", "nope", "--layer", "c3", "--channel", "0"], "no model 'nope'"),
    ],
)
def test_bad_input_exits_2_with_one_line(capsys, tmp_path, args, said):
    fast = [] if "--steps" in args else ["--steps", "2"]
    code, _, err = run(capsys, *args, *fast, "--out", str(tmp_path / "x.png"))
    assert code == 2
    last = err.strip().splitlines()[-1]
    assert last.startswith("error:") and said in last, err
    assert not (tmp_path / "x.png").exists()


def test_resnet18_from_the_weights_cache(capsys, tmp_path, monkeypatch):
    """ImageNet weights where torchvision's cache expects them (random values: no download)."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    url = weights.default_weights("resnet18").url
    folder = tmp_path / "torch" / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    torch.manual_seed(0)
    torch.save(torchvision.models.resnet18().state_dict(), folder / url.rsplit("/", 1)[-1])
    out = tmp_path / "r.png"
    code, text, err = run(capsys, "--model", "resnet18", "--layer", "layer3", "--channel", "5",
                          "--side", "64", "--steps", "4", "--top", "2", "--out", str(out),
                          "--json")  # fmt: skip
    assert code == 0, err
    doc = json.loads(text)
    assert doc["side"] == 64 and len(doc["top_images"]) == 2
    assert np.array(Image.open(out)).shape == (64, 64, 3)
