"""The transfer-learning page's helpers against real runs of cnnviz.train on tiny data: the live
curves read what `finetune` reports, the loading snippet really loads the download."""

from __future__ import annotations

import dataclasses
import io
import os
from collections.abc import Iterator

import numpy as np
import pytest
import torch
from PIL import Image

from cnnviz.errors import OutOfBounds
from cnnviz.plots import transfer_learning as plots
from cnnviz.train import FinetuneConfig, finetune, predict
from cnnviz.ui import transfer_learning as ui
from tests.train_cases import Recorder, tiny


@pytest.fixture(scope="module")
def run() -> Iterator[tuple[object, Recorder]]:
    """One tiny last-block fine-tune (one CPU thread: see tests/train_cases.py)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        report = Recorder()
        config = FinetuneConfig(
            weights="none", strategy="last", last_blocks=1, image_size=16, epochs=2, batch_size=4
        )
        result = finetune(tiny(), config, report=report)
    finally:
        torch.set_num_threads(threads)
    yield result, report


def test_curves_draw_what_finetune_reports(run) -> None:
    result, report = run
    fig = plots.curves_figure(report.metrics(), epochs=2)
    traces = {t.name: t for t in fig.data}
    history = result.history
    assert list(traces["validation accuracy"].y) == [h["val_accuracy"] for h in history]
    assert list(traces["train loss"].y) == [h["train_loss"] for h in history]
    assert list(traces["train loss"].x) == [h["epoch"] for h in history]
    # the last-block fine-tune reports every batch: 10 training images in batches of 4, twice
    batch = traces["train loss (per batch)"]
    assert len(batch.x) == 2 * 3 and all(0 < x <= 2 for x in batch.x)


def test_the_loading_snippet_loads_the_download(run, tmp_path, capsys) -> None:
    result, _ = run
    name = "model.pt"
    (tmp_path / name).write_bytes(ui.model_bytes(result))
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        exec(ui.loading_snippet(name, result.classes), {})
    finally:
        os.chdir(cwd)
    images = torch.zeros(1, 3, 16, 16, dtype=torch.uint8)
    expected = predict(result.trained(), images, top=3)
    assert capsys.readouterr().out.strip() == str(expected)


def test_cell_images_are_the_confusion_cell(run) -> None:
    result, _ = run
    data = tiny()
    for i in range(2):
        for j in range(2):
            picked = ui.cell_images(data, result.val_indices, result.val_predictions, i, j)
            assert len(picked) == result.confusion[i][j]
            assert all(data.labels[k] == i for k in picked)


def test_predict_upload_is_a_centered_square(run) -> None:
    # 40 wide, 20 high: the middle 20x20 is white, the sides black; a center crop keeps white.
    image = np.zeros((20, 40, 3), dtype=np.uint8)
    image[:, 10:30] = 255
    png = io.BytesIO()
    Image.fromarray(image).save(png, format="PNG")
    batch = ui.predict_upload(png.getvalue(), run[0].trained())
    assert batch.shape == (1, 3, 16, 16) and batch.dtype == torch.uint8
    assert (batch == 255).all()


def test_last_blocks_limit_follows_the_backbone() -> None:
    assert ui.last_blocks_limit(5).high == 5 and ui.last_blocks_limit(15).low == 1
    with pytest.raises(OutOfBounds):
        ui.last_blocks_limit(5).check(6)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("shapes/dark/2.png", "2.png"),
        ("brick_and_grass/brick/ab.jpg", "ab.jpg"),
        ("C:\\photos\\grass\\g1.png", "g1.png"),
        ("d/IMG_20240101_235959.jpg", "IMG_2…59.jpg"),
    ],
)
def test_captions_are_file_names_short_enough_for_a_thumbnail(path: str, expected: str) -> None:
    name = ui.caption_name(path)
    assert name == expected and len(name) <= 12 and "/" not in name


def test_the_cell_sentence_counts_in_words() -> None:
    assert ui.cell_sentence(1, "brick", "grass") == (
        "1 validation image of **brick** predicted as **grass**:"
    )
    assert ui.cell_sentence(0, "brick", "grass").startswith("0 validation images of")
    assert ui.cell_sentence(0, "brick", "grass").endswith(".")
    assert ui.cell_sentence(1234, "a_b", "c").startswith("1,234 validation images of **a\\_b**")


def test_settings_in_words_and_what_changed() -> None:
    config = FinetuneConfig(weights="none", strategy="last", last_blocks=2, epochs=3, seed=7)
    then = ui.run_settings(config, "shapes.zip: 12 images in 2 classes", "Random initialization")
    assert then["Strategy"] == "Fine-tune the last 2 blocks"
    assert (then["Backbone"], then["Epochs"], then["Seed"]) == ("resnet18", "3", "7")
    assert ui.changed_settings(then, dict(then)) == []
    now = ui.run_settings(
        dataclasses.replace(config, epochs=1, seed=7, last_blocks=1),
        "shapes.zip: 12 images in 2 classes",
        "ImageNet",
    )
    assert ui.changed_settings(then, now) == [
        "Weights: Random initialization → ImageNet",
        "Strategy: Fine-tune the last 2 blocks → Fine-tune the last 1 block",
        "Epochs: 3 → 1",
    ]


def _weights_in_words() -> None:
    import streamlit as st

    from cnnviz.ui import transfer_learning as ui

    # An upload, as setup.weights_file keeps it: ((its name, its size), the server's copy).
    st.session_state[ui.KEY + "weights_path"] = (("fractals.pth", 10), "/srv/tmp/ab/sd.pt")
    for weights in ("imagenet", "none", "/srv/tmp/ab/sd.pt", "/srv/other/w.pt"):
        st.text(f"{ui.weights_words(weights)} | {ui.export_weights(weights)}")


def test_weights_are_named_never_by_a_server_path() -> None:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_weights_in_words).run()
    assert [t.value for t in at.text] == [
        "ImageNet | imagenet",
        "Random initialization | none",
        "fractals.pth | fractals.pth",  # the upload by the name it was uploaded under
        "w.pt | w.pt",  # another path: its file name only
    ]
