"""The transfer-learning page in AppTest: a built-in dataset and an uploaded zip through to a
finished run, the results checked against the run's own result; a bad zip shows the error."""

from __future__ import annotations

import gc
import io
import json
import re
import tempfile
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image
from streamlit.testing.v1 import AppTest

from cnnviz.data import limits
from cnnviz.data.workspace import DISK_ENV
from cnnviz.errors import CnnvizError
from cnnviz.jobs import JobState, Stopped, default_runner
from cnnviz.train import (
    backbone_weights_status,
    check_weights_file,
    load_trained,
    predict,
    weights_file_mb,
)
from cnnviz.train.backbones import spec
from cnnviz.ui import transfer_learning as ui
from cnnviz.ui.formulas import literal
from cnnviz.ui.jobs import _OWNER_STATE
from tests.page_text import server_paths_shown

PAGE = "pages/transfer_learning.py"
KEY = "transfer_learning_"
WAIT_S = 300  # a loaded 2-core CI box trains slowly; the loop ends as soon as the results show


def png_bytes(level: int, side: int = 16) -> bytes:
    png = io.BytesIO()
    Image.new("RGB", (side, side), (level, level, level)).save(png, format="PNG")
    return png.getvalue()


def tiny_zip() -> bytes:
    """Two classes of 16x16 PNGs (dark and light squares), one folder each, inside a top
    folder, plus a file that is not an image (skipped, with its reason)."""
    buffer = io.BytesIO()
    rng = np.random.default_rng(0)
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, level in (("dark", 40), ("light", 210)):
            for i in range(6):
                pixels = np.clip(level + rng.integers(-20, 20, (16, 16, 3)), 0, 255)
                png = io.BytesIO()
                Image.fromarray(pixels.astype(np.uint8)).save(png, format="PNG")
                archive.writestr(f"shapes/{name}/{i}.png", png.getvalue())
        archive.writestr("shapes/light/notes.txt", "not an image")
    return buffer.getvalue()


def tiny_settings(at: AppTest) -> None:
    """The cheapest run: 16 px, random weights, a linear probe, one epoch."""
    at.number_input(key=KEY + "image_size").set_value(16).run()
    at.radio(key=KEY + "weights").set_value("none").run()
    at.radio(key=KEY + "strategy").set_value("linear").run()
    at.number_input(key=KEY + "epochs").set_value(1).run()
    assert not at.exception, [e.value for e in at.exception]


def train_until_results(at: AppTest):
    """Click Train, rerun until the results show; the run's result, from the runner."""
    at.button(key=KEY + "train").click().run()
    assert not at.exception, [e.value for e in at.exception]
    handle = default_runner().latest(at.session_state[_OWNER_STATE], KEY + "job")
    assert handle is not None and KEY + "job" not in at.query_params
    assert handle.done(WAIT_S), "the run did not finish"
    deadline = time.monotonic() + WAIT_S
    while not any(h.value == "4. Results" for h in at.header):
        assert time.monotonic() < deadline, "no results on the page"
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    return handle.result()


def plotly_json(at: AppTest, key: str) -> dict:
    """The figure of the page's chart whose widget key ends with `key`."""
    for element in at.get("plotly_chart"):
        if KEY in element.proto.id and element.proto.id.endswith(key):
            return json.loads(element.proto.spec)
    raise AssertionError(f"no chart {key}")


def cm_box(at: AppTest, label: str):
    """The confusion matrix's "True class" or "Predicted as" selectbox (its key changes)."""
    return next(s for s in at.selectbox if s.label == label)


def choose_cell(at: AppTest, true: int, predicted: int) -> str:
    """Choose a confusion cell with the selectboxes; the sentence the page says about it,
    after checking that the boxes and the chart's outline show that cell."""
    cm_box(at, "True class").set_value(true).run()
    cm_box(at, "Predicted as").set_value(predicted).run()
    assert not at.exception, [e.value for e in at.exception]
    assert (cm_box(at, "True class").value, cm_box(at, "Predicted as").value) == (true, predicted)
    (outline,) = plotly_json(at, "confusion")["layout"]["shapes"]
    assert (outline["x0"] + 0.5, outline["y0"] + 0.5) == (predicted, true)
    return next(m.value for m in at.markdown if "validation image" in m.value)


def settings_line(at: AppTest) -> str:
    return next(m.value for m in at.markdown if m.value.startswith("Results of the run with"))


def stale_warnings(at: AppTest) -> list[str]:
    return [w.value for w in at.warning if "previous run" in w.value]


def metric(at: AppTest, label: str) -> str:
    """A metric's value; the estimate's metrics once its probe (a thread) has answered."""
    deadline = time.monotonic() + WAIT_S
    while not any(m.label == label for m in at.metric):
        assert time.monotonic() < deadline, f"no metric {label!r}"
        time.sleep(0.1)
        at.run()
    return next(m.value for m in at.metric if m.label == label)


def test_built_in_data_through_to_a_finished_run(open_page, app_path: str) -> None:
    at = open_page(PAGE)
    # The page opens on the digits, nothing uploaded: scikit-learn's 1,797 8x8 digits.
    assert metric(at, "Images") == "1,797" and metric(at, "Classes") == "10"
    # The queueing rule is a caption beside Train: a tooltip would stay over the heading while
    # the pointer rests on the clicked button during the run.
    assert not at.button(key="transfer_learning_train").help
    assert ui.TRAIN_RULE in [c.value for c in at.caption]
    # The run itself on the 200 LFW crops: the digits take too long on a busy 2-core machine.
    at.radio(key=KEY + "source").set_value("lfw").run()
    assert metric(at, "Images") == "200" and metric(at, "Classes") == "2"
    tiny_settings(at)
    assert metric(at, "Image size") == "16x16"
    # A linear probe trains the new head only: 512 features x 2 classes + 2 biases.
    assert metric(at, "Trainable parameters") == f"{512 * 2 + 2:,}"
    result = train_until_results(at)
    assert result.classes == ["face", "not face"] and len(result.history) == 1
    assert metric(at, "Validation accuracy") == f"{result.val_accuracy:.1%}"
    # The charts draw the run's own numbers.
    heat = plotly_json(at, "confusion")["data"][0]
    assert heat["z"] == result.confusion
    per_class = plotly_json(at, "per_class")["data"][0]
    assert per_class["y"] == list(result.per_class_accuracy.values())
    curves = {t["name"]: t for t in plotly_json(at, "curves")["data"]}
    assert curves["validation accuracy"]["y"] == [result.history[0]["val_accuracy"]]
    # A chosen cell lists as many validation images as the confusion matrix counts there;
    # the boxes, the outlined cell and the sentence name the same cell.
    for true, predicted in ((0, 0), (1, 0), (0, 1), (1, 1)):
        said = choose_cell(at, true, predicted)
        count = result.confusion[true][predicted]
        images = "image" if count == 1 else "images"
        what = f"**{result.classes[true]}** predicted as **{result.classes[predicted]}**"
        assert said == f"{count:,} validation {images} of {what}" + (":" if count else ".")
        shown = at.get("image")
        assert len(shown[0].proto.imgs) == min(count, 24) if count else not shown
    # The trained model is offered to the Explain page.
    trained = at.session_state[KEY + "trained"]
    assert trained.classes == result.classes and trained.backbone == "resnet18"
    # A refresh (a new session, the same URL) finds the run and its results again; the URL's
    # preset reopens the faces at the same side, so their validation images show again.
    refreshed = AppTest.from_file(app_path, default_timeout=120)
    refreshed.query_params.update(at.query_params)
    refreshed.session_state[_OWNER_STATE] = at.session_state[_OWNER_STATE]  # the same browser
    refreshed.switch_page(PAGE).run()
    assert not refreshed.exception, [e.value for e in refreshed.exception]
    assert metric(refreshed, "Validation accuracy") == f"{result.val_accuracy:.1%}"
    assert refreshed.radio(key=KEY + "source").value == "lfw"
    assert not any("dataset changed" in c.value for c in refreshed.caption)
    assert any("validation images of" in m.value for m in refreshed.markdown)
    # The same run seen against another dataset (the link without its preset: the digits)
    # shows its figures but not the digits as if they were its validation images.
    other = AppTest.from_file(app_path, default_timeout=120)
    other.query_params.update({k: v for k, v in at.query_params.items() if k != "data"})
    other.session_state[_OWNER_STATE] = at.session_state[_OWNER_STATE]
    other.switch_page(PAGE).run()
    assert metric(other, "Validation accuracy") == f"{result.val_accuracy:.1%}"
    assert any("dataset changed" in c.value for c in other.caption)
    # ... and says they are the previous run's, whose data it names by its classes.
    (stale,) = stale_warnings(other)
    assert "Data: 2 classes (face, not face) → Digits (built in): 1,797 images" in stale
    assert "Data: **2 classes (face, not face)**" in settings_line(other)


def test_uploaded_zip_through_to_a_finished_run(open_page) -> None:
    at = open_page(PAGE)
    at.radio(key=KEY + "source").set_value("zip").run()
    at.file_uploader(key=KEY + "zip").set_value(("shapes.zip", tiny_zip(), "application/zip"))
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert metric(at, "Images") == "12" and metric(at, "Classes") == "2"
    counts = plotly_json(at, "counts")["data"][0]
    assert counts["x"] == ["dark", "light"] and counts["y"] == [6, 6]
    (skipped,) = [e for e in at.expander if "skipped" in e.label]
    assert skipped.label == "1 file skipped"
    tiny_settings(at)
    result = train_until_results(at)
    assert result.classes == ["dark", "light"]
    assert plotly_json(at, "confusion")["data"][0]["z"] == result.confusion
    # 6 images x 0.2 = 1.2: one validation image per class
    assert sum(map(sum, result.confusion)) == len(result.val_indices) == 2
    # Section 4 says which settings its results came from (tiny_settings' and the defaults).
    line = settings_line(at)
    for said in (
        "Data: **shapes.zip: 12 images in 2 classes**",
        f"Backbone: **{result.config.backbone}**",
        "Weights: **Random initialization**",
        "Strategy: **Linear probe**",
        f"Epochs: **{result.config.epochs}**",
        f"Seed: **{result.config.seed}**",
    ):
        assert said in line, line
    assert (result.config.epochs, result.config.seed) == (1, 0) and not stale_warnings(at)
    # Settings changed since: the results are marked as the previous run's, saying what changed.
    at.number_input(key=KEY + "epochs").set_value(2).run()
    at.number_input(key=KEY + "seed").set_value(5).run()
    (stale,) = stale_warnings(at)
    assert "Epochs: 1 → 2" in stale and "Seed: 0 → 5" in stale and "Backbone" not in stale
    assert "Epochs: **1**" in settings_line(at)  # still the run's settings
    at.number_input(key=KEY + "epochs").set_value(1).run()
    at.number_input(key=KEY + "seed").set_value(0).run()
    assert not stale_warnings(at)  # the run's settings again
    # The images of a cell are captioned with their file names, not their paths.
    data = at.session_state[ui.DATASET][1]
    true, predicted = next((i, j) for i in range(2) for j in range(2) if result.confusion[i][j])
    said = choose_cell(at, true, predicted)
    picked = ui.cell_images(data, result.val_indices, result.val_predictions, true, predicted)
    assert said.startswith(f"{len(picked)} validation image{'s' if len(picked) > 1 else ''} of")
    captions = [img.caption for img in at.get("image")[0].proto.imgs]
    assert captions == [Path(data.paths[i]).name for i in picked]
    assert all(re.fullmatch(r"\d\.png", c) for c in captions)  # shapes/dark/3.png -> 3.png
    # The download is named after what it is (backbone, weights, strategy, accuracy).
    name = f"resnet18_none_linear_val{100 * result.val_accuracy:.1f}pct.pt"
    assert f'load_trained("{name}")' in at.code[0].value
    # A new image: the top-k bars are predict()'s answer for it.
    at.file_uploader(key=KEY + "predict").set_value(("new.png", png_bytes(200), "image/png"))
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    trained = at.session_state[KEY + "trained"]
    (expected,) = predict(trained, ui.predict_upload(png_bytes(200), trained), top=5)
    bars = plotly_json(at, "topk")["data"][0]
    assert bars["y"] == [c for c, _ in expected]
    # The same model on the same input; float sums may differ in the last bits with the
    # thread count earlier tests left (1e-8 seen in one process with the CLI's tests).
    assert bars["x"] == pytest.approx([p for _, p in expected], abs=1e-6)
    # Cleared uploader: the prediction goes with it.
    at.file_uploader(key=KEY + "predict").set_value(None).run()
    assert not at.exception, [e.value for e in at.exception]
    assert not [c for c in at.get("plotly_chart") if c.proto.id.endswith("topk")]
    assert "as the model sees it" not in [i.caption for e in at.get("image") for i in e.proto.imgs]
    # The download is one file that loads back into the same classifier, and says how.
    loaded = load_trained(io.BytesIO(ui.model_bytes(result)))
    assert loaded.classes == ["dark", "light"] and loaded.backbone == "resnet18"
    assert (loaded.strategy, loaded.weights) == ("linear", "none")
    assert loaded.val_accuracy == result.val_accuracy


def test_an_uploaded_folder_is_a_dataset(open_page) -> None:
    at = open_page(PAGE)
    at.radio(key=KEY + "source").set_value("folder").run()
    with zipfile.ZipFile(io.BytesIO(tiny_zip())) as archive:
        files = [(n, archive.read(n), "application/octet-stream") for n in archive.namelist()]
    at.file_uploader(key=KEY + "folder").set_value(files)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    counts = plotly_json(at, "counts")["data"][0]
    assert counts["x"] == ["dark", "light"] and counts["y"] == [6, 6]


def test_a_bad_weights_file_is_refused(open_page) -> None:
    at = open_page(PAGE)
    at.radio(key=KEY + "weights").set_value("file").run()
    assert at.button(key=KEY + "train").disabled  # nothing uploaded yet
    at.file_uploader(key=KEY + "weights_file").set_value(("w.pt", b"junk", "application/x"))
    at.run()
    assert any("not a PyTorch weights file" in e.value for e in at.error)
    assert at.button(key=KEY + "train").disabled


def test_the_weights_uploader_takes_what_the_server_takes(open_page) -> None:
    """The uploader's limit is the server's (Streamlit refuses more whatever a widget says);
    a backbone whose full state dict is larger is sent to the command line, by its size."""
    at = open_page(PAGE)
    at.radio(key=KEY + "weights").set_value("file").run()
    uploader = at.file_uploader(key=KEY + "weights_file")
    assert uploader.proto.max_upload_size_mb == limits.UPLOAD_MB.high
    assert f"Up to {limits.UPLOAD_MB.high} MB" in uploader.help
    assert not [i.value for i in at.info]  # resnet18: 45 MB
    at.selectbox(key=KEY + "backbone").set_value("vgg16").run()
    shown = re.findall(r"about ([\d,]+) MB", " ".join(i.value for i in at.info))
    sizes = [int(m.replace(",", "")) for m in shown]
    assert sizes == [round(weights_file_mb(spec("vgg16")))] and sizes[0] > limits.UPLOAD_MB.high
    assert "finetune DATA --backbone vgg16 --weights FILE" in at.info[0].value


def test_a_bad_zip_shows_the_error(open_page) -> None:
    at = open_page(PAGE)
    at.radio(key=KEY + "source").set_value("zip").run()
    at.file_uploader(key=KEY + "zip").set_value(("broken.zip", b"not a zip", "application/zip"))
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    (error,) = at.error
    assert "zip" in error.value.lower()
    assert at.button(key=KEY + "train").disabled  # nothing to train on


def test_one_class_zip_says_why(open_page) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        png = io.BytesIO()
        Image.new("RGB", (8, 8)).save(png, format="PNG")
        archive.writestr("only/a.png", png.getvalue())
        archive.writestr("only/b.png", png.getvalue())
    at = open_page(PAGE)
    at.radio(key=KEY + "source").set_value("zip").run()
    at.file_uploader(key=KEY + "zip").set_value(("one.zip", buffer.getvalue(), "application/zip"))
    at.run()
    assert any("at least 2 classes" in e.value for e in at.error)


def test_the_session_folder_goes_with_the_session(open_page) -> None:
    at = open_page(PAGE)
    at.radio(key=KEY + "source").set_value("zip").run()
    at.file_uploader(key=KEY + "zip").set_value(("shapes.zip", tiny_zip(), "application/zip"))
    at.run()
    folder = Path(at.session_state[KEY + "workspace"].path)
    assert folder.is_dir()
    assert not any(folder.iterdir())  # the unpacked zip is gone once decoded
    del at
    gc.collect()
    assert not folder.exists()


@pytest.mark.parametrize("backbone", ["alexnet", "vgg16"])
def test_a_too_small_image_for_the_backbone_is_explained(open_page, backbone: str) -> None:
    at = open_page(PAGE)
    at.number_input(key=KEY + "image_size").set_value(16).run()
    at.selectbox(key=KEY + "backbone").set_value(backbone).run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("too small" in e.value for e in at.error)
    assert at.button(key=KEY + "train").disabled


def test_imagenet_weights_say_where_they_are_or_which_file_is_missing(open_page) -> None:
    at = open_page(PAGE)
    at.radio(key=KEY + "weights").set_value("imagenet").run()
    available, message = backbone_weights_status(spec("resnet18"))
    if available:
        assert any(c.value == message for c in at.caption)
        assert not at.button(key=KEY + "train").disabled
    else:
        assert [w.value for w in at.warning] == [message]
        assert "fetch-weights resnet18" in message
        assert at.button(key=KEY + "train").disabled


def test_the_estimate_probe_is_a_job_and_the_run_does_not_wait_for_it(
    open_page, monkeypatch
) -> None:
    """The probe runs through the job runner (counted with the browser's jobs, in a lane of
    its own) and the page's run goes on without it; the estimate shows once it has answered."""
    import cnnviz.ui.transfer_learning.estimate as panel

    real = panel.estimate
    release = threading.Event()

    def held(data, config, store=None):  # a probe still running when the page reaches its panel
        assert release.wait(WAIT_S)
        return real(data, config, store)

    monkeypatch.setattr(panel, "estimate", held)
    try:
        at = open_page(PAGE)
        at.radio(key=KEY + "source").set_value("lfw").run()  # a new dataset: a new probe
        assert not any(m.label == "Estimated time" for m in at.metric)
        # (queued behind the first run's probe for the digits, held too: one at a time)
        assert any(c.value in (panel.TIMING, panel.QUEUED) for c in at.caption)
        probes = [h for h in default_runner().jobs(at.session_state[_OWNER_STATE])
                  if h.tag == panel.ESTIMATE]  # fmt: skip
        assert len(probes) == 2 and all(p._job.lane == panel.LANE for p in probes)
        probe = probes[-1]
        assert not probe.state.finished
    finally:
        release.set()
    probe.result(WAIT_S)
    at.run()
    labels = [m.label for m in at.metric]
    assert "Trainable parameters" in labels and "Estimated time" in labels, labels
    assert not any(c.value in (panel.TIMING, panel.QUEUED) for c in at.caption)


def test_weights_default_to_synthetic_without_imagenet_and_say_what_it_is(open_page) -> None:
    from cnnviz import synthetic

    at = open_page(PAGE)
    assert not backbone_weights_status(spec("resnet18"))[0]  # the suite's TORCH_HOME is empty
    expected = "synthetic" if synthetic.available() else "none"
    assert at.radio(key=KEY + "weights").value == expected
    if expected == "synthetic":
        count = f"{synthetic.card()['images']:,}"
        (caption,) = [c.value for c in at.caption if "procedurally generated" in c.value]
        assert count in caption and "no photo" in caption


def test_random_weights_say_a_linear_probe_learns_little(open_page) -> None:
    at = open_page(PAGE)
    at.radio(key=KEY + "weights").set_value("none").run()
    at.radio(key=KEY + "strategy").set_value("linear").run()
    assert not at.exception, [e.value for e in at.exception]
    (warning,) = [w.value for w in at.warning if "linear probe on random weights" in w.value]
    assert "expect little" in warning
    table = plotly_json(at, "table")
    cells = {
        a["text"].replace("<b>", "").replace("</b>", "") for a in table["layout"]["annotations"]
    }
    assert "Linear probe" not in cells and "Full<br>fine-tune" in cells  # every cell: train more
    assert any("nothing to transfer" in c.value for c in at.caption)
    at.radio(key=KEY + "strategy").set_value("full").run()
    assert not [w for w in at.warning if "linear probe on random weights" in w.value]


def test_missing_imagenet_weights_are_one_sentence_without_jargon(open_page) -> None:
    at = open_page(PAGE)
    at.radio(key=KEY + "weights").set_value("imagenet").run()
    (message,) = [w.value for w in at.warning]
    assert "resnet18-f37072fd.pth" in message and "fetch-weights resnet18" in message
    assert "'none'" not in message and "/hub/checkpoints" not in message


def test_synthetic_weights_on_another_backbone_are_refused_with_a_reason(open_page) -> None:
    at = open_page(PAGE)
    at.number_input(key=KEY + "image_size").set_value(64).run()
    at.selectbox(key=KEY + "backbone").set_value("mobilenet_v3_small").run()
    at.radio(key=KEY + "weights").set_value("synthetic").run()
    assert any("synthetic backbone is a resnet18" in w.value for w in at.warning)
    assert at.button(key=KEY + "train").disabled


def test_the_pages_defaults_are_the_clis(open_page) -> None:
    """The page's last-blocks and epochs defaults are cnnviz.train.config's, which the CLI
    uses (tests/test_cli_finetune.py checks the CLI's side)."""
    import argparse

    from cnnviz.cli import train as cli_train
    from cnnviz.train import config

    parser = argparse.ArgumentParser()
    cli_train.add_commands(parser.add_subparsers())
    args = parser.parse_args(["finetune", "digits"])
    assert args.epochs == config.DEFAULT_EPOCHS
    at = open_page(PAGE)
    at.radio(key=KEY + "strategy").set_value("last").run()
    assert at.number_input(key=KEY + "epochs").value == config.DEFAULT_EPOCHS
    assert at.number_input(key=KEY + "last").value == config.default_last_blocks(spec("resnet18"))


def test_a_run_stopped_before_its_first_epoch_says_so(open_page) -> None:
    """Stop pressed during the first epoch: the job ends STOPPED with no accuracy yet; the
    page says so in a sentence instead of failing on the missing figure (the browser test of
    job ownership met this as an uncaught TypeError)."""
    at = open_page(PAGE)
    at.radio(key=KEY + "weights").set_value("none").run()
    at.radio(key=KEY + "strategy").set_value("full").run()
    at.number_input(key=KEY + "epochs").set_value(100).run()
    at.button(key=KEY + "train").click().run()
    assert not at.exception, [e.value for e in at.exception]
    handle = default_runner().latest(at.session_state[_OWNER_STATE], KEY + "job")
    deadline = time.monotonic() + WAIT_S
    while handle.progress().step < 1:  # inside the first epoch: steps, no epoch's metrics
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert not [m for m in handle.progress().metrics if "val_accuracy" in m]
    handle.stop()
    assert handle.done(WAIT_S) and handle.state is JobState.STOPPED
    assert handle.result().val_accuracy is None
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("stopped before its first epoch finished" in i.value for i in at.info)
    assert not any(h.value == "4. Results" for h in at.header)


# --- uploaded weights: checked as they arrive, one file kept, the session's folder bounded ----
def state_bytes(name: str, seed: int = 0) -> bytes:
    torch.manual_seed(seed)
    buffer = io.BytesIO()
    torch.save(torchvision.models.get_model(name, weights=None).state_dict(), buffer)
    return buffer.getvalue()


def stored_files(at: AppTest) -> list[Path]:
    """Every file in the session's folder on the server."""
    if ui.WORKSPACE not in at.session_state:
        return []
    return sorted(p for p in at.session_state[ui.WORKSPACE].path.rglob("*") if p.is_file())


def upload_weights(at: AppTest, name: str, content: bytes) -> None:
    at.file_uploader(key=KEY + "weights_file").set_value((name, content, "application/x"))
    at.run()
    assert not at.exception, [e.value for e in at.exception]


def library_refusal(backbone: str, content: bytes, tmp_path: Path) -> str:
    """The oracle: what check_weights_file (the CLI's check) says of these bytes, as shown."""
    path = tmp_path / "oracle.pt"
    path.write_bytes(content)
    with pytest.raises(CnnvizError) as refusal:
        check_weights_file(spec(backbone), path)
    return literal(str(refusal.value))


def test_an_upload_that_does_not_fit_the_backbone_is_refused_at_once(
    open_page, tmp_path: Path
) -> None:
    at = open_page(PAGE)
    at.radio(key=KEY + "weights").set_value("file").run()
    mobilenet = state_bytes("mobilenet_v3_small")
    upload_weights(at, "mobile.pt", mobilenet)  # the backbone is resnet18
    message = library_refusal("resnet18", mobilenet, tmp_path)
    assert "does not fit resnet18" in message
    assert [e.value for e in at.error if message in e.value], [e.value for e in at.error]
    assert at.button(key=KEY + "train").disabled and stored_files(at) == []
    # The same upload, checked again for the backbone it was saved from: accepted and kept.
    at.selectbox(key=KEY + "backbone").set_value("mobilenet_v3_small").run()
    assert not at.error, [e.value for e in at.error]
    (kept,) = stored_files(at)
    assert kept.read_bytes() == mobilenet and not at.button(key=KEY + "train").disabled
    # 5,000 random bytes are called what they are.
    noise = np.random.default_rng(0).integers(0, 256, 5_000, np.uint8).tobytes()
    upload_weights(at, "noise.pt", noise)
    assert "not a PyTorch weights file" in library_refusal("mobilenet_v3_small", noise, tmp_path)
    assert any("not a PyTorch weights file" in e.value for e in at.error)
    assert not any("Python objects" in e.value for e in at.error)
    assert stored_files(at) == []  # the previous file went with the new upload, this one too


def test_only_the_weights_file_in_use_is_kept(open_page) -> None:
    at = open_page(PAGE)
    at.selectbox(key=KEY + "backbone").set_value("mobilenet_v3_small").run()
    at.radio(key=KEY + "weights").set_value("file").run()
    for seed in range(3):
        content = state_bytes("mobilenet_v3_small", seed)
        upload_weights(at, f"mine-{seed}.pt", content)
        (kept,) = stored_files(at)
        assert kept.read_bytes() == content and not at.error
        # The page names the uploaded file, never the server's copy or its folder.
        assert server_paths_shown(at, str(kept.parent.parent), tempfile.gettempdir() + "/") == []
    upload_weights(at, "junk.pt", b"junk")  # refused: removed at once, the previous one too
    assert stored_files(at) == [] and at.error
    upload_weights(at, "mine.pt", content)
    assert len(stored_files(at)) == 1
    at.file_uploader(key=KEY + "weights_file").set_value(None).run()  # removed by the student
    assert stored_files(at) == []
    at.file_uploader(key=KEY + "weights_file").set_value(("m.pt", content, "application/x")).run()
    assert len(stored_files(at)) == 1
    at.radio(key=KEY + "weights").set_value("none").run()  # another choice: not in use
    assert stored_files(at) == [] and not at.exception


def test_a_session_past_its_disk_bound_gets_one_sentence_and_nothing_is_written(
    open_page, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DISK_ENV, "1")  # 1 MB: MobileNetV3-Small's state dict is 10 MB
    at = open_page(PAGE)
    at.selectbox(key=KEY + "backbone").set_value("mobilenet_v3_small").run()
    at.radio(key=KEY + "weights").set_value("file").run()
    upload_weights(at, "mine.pt", state_bytes("mobilenet_v3_small"))
    (error,) = [e.value for e in at.error]
    assert "does not fit in your folder on the server" in error and literal(DISK_ENV) in error
    assert stored_files(at) == [] and at.button(key=KEY + "train").disabled


def test_a_queued_runs_weights_file_stays_until_the_run_ends(open_page, monkeypatch) -> None:
    """A new upload replaces the file in the uploader, not the one a queued or running run
    will read; once that run has ended, the next upload removes it."""
    tick = threading.Event()  # never set: a sleep that a stop ends early

    def held_run(data, config, *, report):
        while not report.stop_requested:  # a run that waits until it is stopped
            tick.wait(0.05)
        raise Stopped

    monkeypatch.setattr(ui.training, "finetune", held_run)
    at = open_page(PAGE)
    at.selectbox(key=KEY + "backbone").set_value("mobilenet_v3_small").run()
    at.radio(key=KEY + "weights").set_value("file").run()
    first = state_bytes("mobilenet_v3_small", 1)
    upload_weights(at, "first.pt", first)
    at.button(key=KEY + "train").click().run()
    assert not at.exception, [e.value for e in at.exception]
    handle = default_runner().latest(at.session_state[_OWNER_STATE], KEY + "job")
    assert not handle.state.finished
    second = state_bytes("mobilenet_v3_small", 2)
    upload_weights(at, "second.pt", second)
    assert sorted(f.read_bytes() for f in stored_files(at)) == sorted([first, second])
    handle.stop()
    assert handle.done(WAIT_S)
    third = state_bytes("mobilenet_v3_small", 3)
    upload_weights(at, "third.pt", third)
    assert [f.read_bytes() for f in stored_files(at)] == [third]


def test_the_run_reads_its_dataset_and_features_through_the_store(
    open_page, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page hands the job a reference (cnnviz.store): an upload leaves the store when its
    run ends, and a second run on it reads the first run's features; a built-in dataset stays
    for the next student."""
    from cnnviz.data import digits
    from cnnviz.store import default_store
    from cnnviz.store.datasets import dataset_key

    monkeypatch.setenv("CNNVIZ_STORE", str(tmp_path))  # empty: the other tests ran these runs
    store = default_store()
    at = open_page(PAGE)
    at.radio(key=KEY + "source").set_value("zip").run()
    at.file_uploader(key=KEY + "zip").set_value(("shapes.zip", tiny_zip(), "application/zip"))
    at.run()
    tiny_settings(at)
    data = at.session_state[KEY + "dataset"][1]
    first = train_until_results(at)
    assert "features" in first.timings and "dataset" in first.timings  # read by reference
    # The upload leaves with its last pin: its run's, and the estimate's probe (a job too)
    key = dataset_key(data.content_hash)
    deadline = time.monotonic() + 30
    while store.has(key) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not store.has(key)
    again = train_until_results(at)
    assert "features_from_store" in again.timings and again.history == first.history
    at = open_page(PAGE)  # the built-in digits
    tiny_settings(at)
    train_until_results(at)
    key = dataset_key(digits(16).content_hash)
    assert store.has(key) and not store.pinned(key)
