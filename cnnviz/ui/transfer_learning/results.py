"""The transfer-learning page's results: the settings they came from (marked when the page's
settings have changed since), scores, per-class accuracy, a clickable confusion matrix with its
validation images, prediction on an upload, and the model to take home."""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Sequence

import streamlit as st
import torch

from cnnviz.data import ImageDataset
from cnnviz.errors import CnnvizError
from cnnviz.images import decode_upload
from cnnviz.jobs import JobHandle
from cnnviz.notation import counted, duration
from cnnviz.plots import transfer_learning as plots
from cnnviz.train import (
    FinetuneConfig,
    FinetuneResult,
    TrainedModel,
    predict,
    save_trained,
    snippet,
)
from cnnviz.train.result import file_name
from cnnviz.ui.errors import show_error
from cnnviz.ui.formulas import literal
from cnnviz.ui.transfer_learning.common import KEY
from cnnviz.ui.transfer_learning.setup import TABLE_NAMES
from cnnviz.ui.transfer_learning.training import (
    data_words,
    export_weights,
    run_record,
    weights_words,
)

TRAINED = KEY + "trained"  # the TrainedModel the Explain page offers
CELL = KEY + "cm_cell"  # the chosen confusion cell: (matrix, (true, predicted), generation)
CAPTION_CHARS = 12  # a caption under a 96-px thumbnail: longer names are shortened
MAIN_SETTINGS = ("Data", "Backbone", "Weights", "Strategy", "Epochs", "Seed")


def run_settings(config: FinetuneConfig, data: str, weights: str) -> dict[str, str]:
    """A run's settings as the page words them (`data` and `weights` already in words)."""
    strategy = TABLE_NAMES.get(config.strategy, config.strategy).replace("<br>", " ")
    if config.strategy == "last":
        strategy = f"Fine-tune the last {counted(config.last_blocks, 'block')}"
    return {
        "Data": data,
        "Backbone": config.backbone,
        "Weights": weights,
        "Strategy": strategy,
        "Epochs": f"{config.epochs:,}",
        "Seed": str(config.seed),
        "Image side": f"{config.image_size} px",
        "Batch size": str(config.batch_size),
        "Learning rate": f"{config.lr:g}",
        "Validation": f"{config.val_fraction:.0%}",
    }


def changed_settings(then: dict[str, str], now: dict[str, str]) -> list[str]:
    """'Epochs: 1 → 2' for every setting that differs."""
    return [f"{k}: {then[k]} → {now[k]}" for k in then if then[k] != now.get(k)]


def fallback_data_words(result: FinetuneResult) -> str:
    """The data of a run found again after a refresh (this session did not start it)."""
    shown = ", ".join(result.classes[:5]) + (", ..." if len(result.classes) > 5 else "")
    return f"{counted(len(result.classes), 'class', 'classes')} ({shown})"


def same_data(data: ImageDataset | None, result: FinetuneResult) -> bool:
    """Whether `data` can be the run's: its classes, its side, its validation indices."""
    return (
        data is not None
        and data.classes == result.classes
        and data.size == result.config.image_size
        and len(data) > max(result.val_indices, default=-1)
    )


def show_run(
    handle: JobHandle,
    result: FinetuneResult,
    data: ImageDataset | None,
    config: FinetuneConfig | None,
) -> bool:
    """The settings these results came from, and a warning naming what changed when the
    page's settings are no longer the run's. Whether the page's dataset is the run's."""
    record = run_record(handle)
    if record is not None:
        then = run_settings(result.config, record.data, record.weights)
    else:  # found again after a refresh: its data known by its classes only
        then = run_settings(
            result.config, fallback_data_words(result), weights_words(result.config.weights)
        )
    data_same = same_data(data, result) and (
        record is None or record.dataset() is data or record.data == data_words(data)
    )
    if data is None:
        changed = ["Data: no dataset chosen now"]
    elif config is None:
        changed = ["the current settings cannot start a run (see section 2)"]
    else:
        now = run_settings(config, data_words(data), weights_words(config.weights))
        if data_same:
            now["Data"] = then["Data"]
        elif now["Data"] == then["Data"]:
            now["Data"] += " (another upload)"
        changed = changed_settings(then, now)
    shown = dict(then)
    if len(result.history) < result.config.epochs:
        shown["Epochs"] = f"{len(result.history):,} of {result.config.epochs:,} (stopped)"
    if changed:
        st.warning(
            "**These results are from the previous run**, not from the settings above. "
            f"Changed since: {literal('; '.join(changed))}. "
            "Click **Train** for results of the current settings.",
            icon=":material/history:",
        )
    main = " · ".join(f"{k}: **{literal(shown[k])}**" for k in MAIN_SETTINGS)
    rest = ", ".join(f"{k.lower()} {shown[k]}" for k in shown if k not in MAIN_SETTINGS)
    st.markdown(f"Results of the run with {main}")
    st.caption(f"Also: {literal(rest)}.")
    return data_same


def predict_upload(raw: bytes, trained: TrainedModel) -> torch.Tensor:
    """An uploaded photo as the model's 1 x 3 x S x S uint8 batch (center square, as the
    dataset's images were made)."""
    return trained.image_tensor(decode_upload(raw)).unsqueeze(0)


def cell_images(
    data: ImageDataset,
    val_indices: Sequence[int],
    predictions: Sequence[int],
    true: int,
    predicted: int,
) -> list[int]:
    """Dataset indices of the validation images of class `true` predicted as `predicted`."""
    labels = data.labels.tolist()
    return [
        i
        for i, p in zip(val_indices, predictions, strict=True)
        if labels[i] == true and p == predicted
    ]


def largest_mistake(confusion: Sequence[Sequence[int]]) -> tuple[int, int]:
    """The off-diagonal cell with the most images; (0, 0) when there is no mistake."""
    n = len(confusion)
    off = [(confusion[i][j], i, j) for i in range(n) for j in range(n) if i != j]
    count, i, j = max(off, default=(0, 0, 0))
    return (i, j) if count else (0, 0)


def confusion_picker(confusion: Sequence[Sequence[int]], classes: Sequence[str]) -> tuple[int, int]:
    """The confusion matrix, clickable, and two selectboxes (true, predicted) that a click
    sets; the chosen cell is outlined. They start on the largest mistake.

    The chosen cell lives in CELL, not in the widgets: each change makes a new generation of
    widgets (their keys carry it) created on the cell. A selectbox given a value through its
    session-state key kept its old value in the browser, so picking that old value again
    did not rerun, and the boxes disagreed with the sentence below them."""
    n = len(classes)
    matrix = tuple(tuple(int(v) for v in row) for row in confusion)
    held = st.session_state.get(CELL)
    if held is None or held[0] != matrix:  # a new run: start on its largest mistake
        held = (matrix, largest_mistake(confusion), held[2] + 1 if held else 0)
        st.session_state[CELL] = held
    cell, generation = held[1], held[2]
    prefix = f"{KEY}cm{generation}_"
    chart_key, true_key, pred_key = prefix + "confusion", prefix + "true", prefix + "pred"

    def choose(true: int, predicted: int) -> None:
        st.session_state[CELL] = (matrix, (int(true), int(predicted)), generation + 1)

    def clicked() -> None:
        points = st.session_state[chart_key].selection.get("points", [])
        chosen = next((p.get("customdata") for p in points if p.get("customdata")), None)
        if chosen is not None:
            choose(chosen[0], chosen[1])

    def picked() -> None:
        choose(st.session_state[true_key], st.session_state[pred_key])

    st.plotly_chart(
        plots.confusion_figure(confusion, classes, chosen=cell),
        key=chart_key,
        on_select=clicked,
        selection_mode="points",
    )
    left, right = st.columns(2)
    name: Callable[[int], str] = classes.__getitem__
    common = {"format_func": name, "on_change": picked}
    left.selectbox("True class", range(n), index=cell[0], key=true_key, **common)
    right.selectbox("Predicted as", range(n), index=cell[1], key=pred_key, **common)
    return cell


def caption_name(path: str, limit: int = CAPTION_CHARS) -> str:
    """An image's file name without its folders, shortened in the middle past `limit`
    characters ('IMG_2…_01.jpg'): a caption under a thumbnail, never wrapped mid-word."""
    name = re.split(r"[\\/]", path)[-1]
    if len(name) <= limit:
        return name
    head = (limit - 1) // 2
    return name[:head] + "…" + name[len(name) - (limit - 1 - head) :]


def cell_sentence(count: int, true: str, predicted: str) -> str:
    """'1 validation image of **dark** predicted as **light**.' (':' when images follow)."""
    what = f"**{literal(true)}** predicted as **{literal(predicted)}**"
    return f"{counted(count, 'validation image')} of {what}" + (":" if count else ".")


def loading_snippet(file_name: str, classes: Sequence[str]) -> str:
    """Python that loads the downloaded model and classifies images with it."""
    return (
        "import torch\n"
        "from cnnviz.train import load_trained, predict\n\n"
        f'trained = load_trained("{file_name}")\n'
        f"# {len(classes)} classes: {', '.join(classes[:5])}{', ...' if len(classes) > 5 else ''}\n"
        "side = trained.image_size  # any size works: predict resizes\n"
        "images = torch.zeros(1, 3, side, side, dtype=torch.uint8)  # uint8 RGB\n"
        "# one list per image: [(class, probability), ...], the most probable first\n"
        "print(predict(trained, images, top=3))\n"
    )


def model_bytes(result: FinetuneResult, weights: str | None = None) -> bytes:
    """The download: save_trained's one file, in memory (`weights`: the name to record)."""
    buffer = io.BytesIO()
    save_trained(result, buffer, weights=weights)
    return buffer.getvalue()


def offer_trained(handle: JobHandle, result: FinetuneResult) -> TrainedModel:
    """The TrainedModel of this run, built once and kept for the Explain page."""
    held = st.session_state.get(TRAINED + "_job")
    if held != handle.id or TRAINED not in st.session_state:
        st.session_state[TRAINED] = result.trained()
        st.session_state[TRAINED + "_job"] = handle.id
    return st.session_state[TRAINED]


def show_scores(result: FinetuneResult) -> None:
    cols = st.columns(4)
    cols[0].metric("Validation accuracy", f"{result.val_accuracy:.1%}")
    cols[1].metric("Training accuracy", f"{result.train_accuracy:.1%}")
    cols[2].metric("Epochs", len(result.history))
    cols[3].metric("Time", duration(result.seconds), help=f"On the {result.device_name}.")
    if result.stopped:
        st.info("Stopped early: these are the results of the epochs it finished.")


def show_mistakes(data: ImageDataset | None, result: FinetuneResult) -> None:
    """Per-class accuracy, the confusion matrix and the validation images of a chosen cell."""
    left, right = st.columns(2)
    left.plotly_chart(
        plots.per_class_accuracy_figure(result.per_class_accuracy), key=KEY + "per_class"
    )
    with right:
        true, predicted = confusion_picker(result.confusion, result.classes)
    if not same_data(data, result):
        st.caption("The dataset changed since this run: its validation images are not shown.")
        return
    picked = cell_images(data, result.val_indices, result.val_predictions, true, predicted)
    st.markdown(cell_sentence(len(picked), result.classes[true], result.classes[predicted]))
    if picked:
        shown = picked[:24]
        images = [data.images[i].permute(1, 2, 0).numpy() for i in shown]
        names = [caption_name(data.paths[i]) if data.paths else f"#{i}" for i in shown]
        st.image(images, width=96, caption=names)
        if len(picked) > len(shown):
            st.caption(f"The first {len(shown)} of {counted(len(picked), 'image')}.")


def predict_panel(trained: TrainedModel) -> None:
    """Classify a newly uploaded image: its top classes as bars."""
    upload = st.file_uploader(
        "An image to classify",
        type=["png", "jpg", "jpeg", "webp", "bmp", "gif"],
        key=KEY + "predict",
    )
    if upload is None:
        return
    try:
        batch = predict_upload(upload.getvalue(), trained)
    except CnnvizError as err:
        show_error(err)
        return
    top = predict(trained, batch, top=min(5, len(trained.classes)))[0]
    left, right = st.columns([1, 3])
    left.image(batch[0].permute(1, 2, 0).numpy(), caption="as the model sees it", width=160)
    right.plotly_chart(plots.topk_figure(top), key=KEY + "topk")


def download(result: FinetuneResult) -> None:
    """The trained model as one file, and how to load it."""
    weights = export_weights(result.config.weights)
    name = file_name(result, weights=weights)
    st.download_button(
        "Download the trained model",
        data=lambda: model_bytes(result, weights),  # only serialized when clicked
        file_name=name,
        mime="application/octet-stream",
        icon=":material/download:",
        key=KEY + "download",
        on_click="ignore",
    )
    st.code(loading_snippet(name, result.classes), language="python")
    with st.expander("Without cnnviz (PyTorch and torchvision only)"):
        st.code(snippet(name), language="python")
