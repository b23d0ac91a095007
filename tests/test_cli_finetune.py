"""`python -m cnnviz finetune | predict | fetch-weights`: the JSON contracts, progress on
stderr, exit 2 with one line (never a traceback) on bad arguments and bad data."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from data_cases import image_bytes, make_zip
from train_cases import one_thread  # noqa: F401

from cnnviz.cli import main
from cnnviz.train import BACKBONES
from cnnviz.train.backbones import spec
from cnnviz.weights import app_weights, weights_file

ROOT = Path(__file__).resolve().parents[1]
KEYS = {
    "backbone", "strategy", "device", "classes", "epochs", "history", "train_accuracy",
    "val_accuracy", "per_class_accuracy", "confusion", "seconds",
}  # fmt: skip
TINY = ["--backbone", "mobilenet_v3_small", "--weights", "none", "--image-size", "16"]


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    """A zip of 2 classes x 4 images, dark and bright."""
    rng = np.random.default_rng(0)
    entries = {
        f"{name}/{i}.png": image_bytes(
            (rng.integers(0, 80, (20, 20, 3)) + 150 * k).astype(np.uint8)
        )
        for k, name in enumerate(("dark", "bright"))
        for i in range(4)
    }
    path = tmp_path / "data.zip"
    path.write_bytes(make_zip(entries))
    return path


@pytest.fixture
def torch_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return tmp_path / "torch"


def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """A proxy on a closed local port: a download fails at once, as offline, on any machine."""
    for var in ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        code = main(list(args))
    except SystemExit as exit:  # argparse's own errors
        code = int(exit.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.usefixtures("one_thread")
def test_finetune_json_then_predict(
    dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = tmp_path / "model.pt"
    code, out, err = run(
        capsys, "finetune", str(dataset), *TINY, "--strategy", "full", "--epochs", "2",
        "--batch-size", "2", "--val-fraction", "0.25", "--out", str(model), "--json",
    )  # fmt: skip
    assert code == 0
    doc = json.loads(out)  # stdout is exactly one JSON object
    assert doc.keys() >= KEYS
    assert doc["classes"] == ["bright", "dark"] and doc["strategy"] == "full"
    assert doc["device"] == "cpu" and doc["epochs"] == 2
    assert [h["epoch"] for h in doc["history"]] == [1, 2]
    assert set(doc["history"][0]) == {
        "epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy",
    }  # fmt: skip
    assert set(doc["per_class_accuracy"]) == {"bright", "dark"}
    assert sum(map(sum, doc["confusion"])) == 2  # one validation image per class
    assert doc["val_accuracy"] == doc["history"][-1]["val_accuracy"]
    assert "Epoch 2 of 2" in err  # the tqdm bar, on stderr

    image = tmp_path / "x.png"
    image.write_bytes(image_bytes(np.full((30, 40, 3), 200, np.uint8)))
    args = ("predict", str(model), str(image), str(image), "--top", "1", "--json")
    code, out, _ = run(capsys, *args)
    assert code == 0
    rows = json.loads(out)
    assert [r["image"] for r in rows] == [str(image)] * 2
    assert len(rows[0]["top"]) == 1 and set(rows[0]["top"][0]) == {"class", "probability"}
    assert rows[0]["top"][0]["class"] in ("bright", "dark")
    assert 0.5 <= rows[0]["top"][0]["probability"] <= 1.0


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--epochs", "0"], "number of epochs is 0"),
        (["--epochs", "1", "--strategy", "half"], "invalid choice"),
        (["--epochs", "1", "--backbone", "resnet50"], "invalid choice"),
        (["--epochs", "1", "--lr", "5"], "learning rate"),
        (["--epochs", "1", "--weights", "/no/such/file.pt"], "no weights file"),
        (["--epochs", "1", "--weights", "imagenet"], "fetch-weights"),
        (["--epochs", "1", "--strategy", "last", "--last-blocks", "6"], "has 5 blocks"),
        (["--epochs", "1", "--backbone", "alexnet", "--image-size", "32"], "at least 63"),
        (["--epochs"], "expected one argument"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(
    dataset: Path,
    torch_home: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    says: str,
) -> None:
    base = ["--weights", "none", "--image-size", "16"]
    code, out, err = run(capsys, "finetune", str(dataset), *base, *args)
    assert code == 2 and out == ""
    assert says in err and err.count("\n") == 1 and err.startswith("error: ")


def test_a_weights_file_that_does_not_fit_is_refused_before_the_data_is_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CLI's refusal is check_weights_file's (the page's too), before any data is loaded:
    a state dict of another backbone, and 5,000 random bytes."""
    from cnnviz.cli import train as cli_training
    from cnnviz.errors import BadWeightsFile
    from cnnviz.train import check_weights_file

    def no_data(*args: object) -> None:
        raise AssertionError("the dataset was read")

    monkeypatch.setattr(cli_training, "_load_training_data", no_data)
    other = tmp_path / "mobilenet.pt"
    torch.save(torchvision.models.mobilenet_v3_small().state_dict(), other)
    noise = tmp_path / "noise.pt"
    noise.write_bytes(np.random.default_rng(0).integers(0, 256, 5_000, np.uint8).tobytes())
    for path, says in ((other, "does not fit resnet18"), (noise, "not a PyTorch weights file")):
        with pytest.raises(BadWeightsFile) as refusal:
            check_weights_file(spec("resnet18"), path)
        assert says in str(refusal.value)
        code, out, err = run(
            capsys, "finetune", "digits", "--backbone", "resnet18", "--weights", str(path)
        )
        assert code == 2 and out == "" and err == f"error: {refusal.value.one_line()}\n"


def test_bad_data_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    one_class = tmp_path / "one.zip"
    one_class.write_bytes(make_zip({"cat/a.png": image_bytes(np.zeros((8, 8, 3), np.uint8))}))
    for path in (str(one_class), str(tmp_path / "missing.zip")):
        code, out, err = run(capsys, "finetune", path, *TINY, "--epochs", "1")
        assert code == 2 and out == "" and err.count("\n") == 1


def test_predict_bad_inputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    not_model = tmp_path / "m.pt"
    not_model.write_bytes(b"hello")
    image = tmp_path / "x.png"
    image.write_bytes(image_bytes(np.zeros((8, 8, 3), np.uint8)))
    code, _, err = run(capsys, "predict", str(not_model), str(image))
    assert code == 2 and "not a model saved by this app" in err and err.count("\n") == 1
    code, _, err = run(capsys, "predict", str(image), str(image))
    assert code == 2 and err.count("\n") == 1


def test_fetch_weights_without_internet_fails_in_one_line(
    torch_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    offline(monkeypatch)
    code, out, err = run(capsys, "fetch-weights", "resnet18")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "cannot download" in err
    assert str(weights_file("resnet18")) in err and "resnet18-f37072fd.pth" in err
    assert not weights_file("resnet18").exists()


def test_fetch_weights_already_present(
    torch_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = weights_file("mobilenet_v3_small")
    path.parent.mkdir(parents=True)
    torch.save(torchvision.models.mobilenet_v3_small().state_dict(), path)
    code, out, _ = run(capsys, "fetch-weights", "mobilenet_v3_small")
    assert code == 0 and out.strip() == f"mobilenet_v3_small: already present at {path}"
    for bad in (["lenet5"], ["no_such_model"], []):
        code, out, err = run(capsys, "fetch-weights", *bad)
        assert code == 2 and err.count("\n") == 1


def test_fetch_weights_all_covers_every_file_the_app_lists(
    torch_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Placeholders (existence is all `--all` checks before downloading): one per file the
    # home page lists, the registry's torchvision models included, not only the backbones.
    names = app_weights(BACKBONES)
    assert {"resnet18", "vgg16", "googlenet", "resnet152"} <= set(names)
    for name in names:
        weights_file(name).parent.mkdir(parents=True, exist_ok=True)
        weights_file(name).touch()
    code, out, _ = run(capsys, "fetch-weights", "--all")
    assert code == 0
    assert out.splitlines() == [f"{n}: already present at {weights_file(n)}" for n in names]


def test_help_names_the_builtin_datasets(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "finetune", "--help")
    assert code == 0 and "digits" in out and "lfw" in out


@pytest.mark.e2e  # a real process of its own
def test_a_real_process_prints_one_json_object(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "cnnviz", "finetune", "lfw", *TINY, "--epochs", "1", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"TMPDIR": str(tmp_path), "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"},
    )
    assert done.returncode == 0, done.stderr[-500:]
    assert json.loads(done.stdout)["classes"] == ["face", "not face"]
    assert "Extracting features" in done.stderr and "Traceback" not in done.stderr


def test_fetch_weights_at_setup_is_one_line_and_never_fails(
    torch_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    offline(monkeypatch)
    code, out, err = run(capsys, "fetch-weights", "--setup", "--timeout", "2")
    assert code == 0 and err == "" and out.count("\n") == 1
    assert "not downloaded" in out and "synthetic backbone" in out
    assert not weights_file("resnet18").exists()
    weights_file("resnet18").parent.mkdir(parents=True, exist_ok=True)
    weights_file("resnet18").touch()
    code, out, _ = run(capsys, "fetch-weights", "--setup")
    assert (
        code == 0
        and out == "ImageNet weights of resnet18: already present (resnet18-f37072fd.pth).\n"
    )


def test_finetune_defaults_are_the_pages(
    torch_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Unset, weights, last blocks, epochs and image size are the page's: synthetic (no
    ImageNet file here), 2, 3 and 32 on a CPU (tests/test_transfer_learning_page.py reads the
    page's own widgets)."""
    from cnnviz import synthetic
    from cnnviz.train import config

    code, out, _ = run(
        capsys, "finetune", "textures", "--strategy", "last", "--val-fraction", "0.5",
        "--device", "cpu", "--json", "--epochs", "1",
    )  # fmt: skip
    assert code == 0
    doc = json.loads(out)
    expected = "synthetic" if synthetic.available() else "none"
    assert doc["config"]["weights"] == expected
    assert doc["config"]["last_blocks"] == config.DEFAULT_LAST_BLOCKS == 2
    assert doc["config"]["image_size"] == config.default_image_size(False) == 32
    code, _, err = run(capsys, "finetune", "textures", "--backbone", "alexnet", "--weights",
                       "synthetic", "--image-size", "64")  # fmt: skip
    assert code == 2 and "synthetic backbone is a resnet18" in err and err.count("\n") == 1
