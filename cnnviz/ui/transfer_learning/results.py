"""The transfer-learning page's results: scores, per-class accuracy, a clickable confusion
matrix with its validation images, prediction on an upload, and the model to take home."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence

import streamlit as st
import torch

from cnnviz.data import ImageDataset
from cnnviz.errors import CnnvizError
from cnnviz.images import decode_upload
from cnnviz.jobs import JobHandle
from cnnviz.notation import duration
from cnnviz.plots import transfer_learning as plots
from cnnviz.train import FinetuneResult, TrainedModel, predict, save_trained, snippet
from cnnviz.ui.errors import show_error
from cnnviz.ui.transfer_learning.common import KEY

TRAINED = KEY + "trained"  # the TrainedModel the Explain page offers


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


def confusion_picker(confusion: Sequence[Sequence[int]], classes: Sequence[str]) -> tuple[int, int]:
    """The confusion matrix, clickable, and two selectboxes that a click sets (true,
    predicted); they start on the largest mistake."""
    true_key, pred_key, chart_key = KEY + "cm_true", KEY + "cm_pred", KEY + "confusion"
    n = len(classes)
    if true_key not in st.session_state or st.session_state[true_key] >= n:
        off = [(confusion[i][j], i, j) for i in range(n) for j in range(n) if i != j]
        count, i, j = max(off, default=(0, 0, 0))
        if count == 0:  # no mistake: the first class's correct images
            i = j = 0
        st.session_state[true_key], st.session_state[pred_key] = i, j

    def clicked() -> None:
        points = st.session_state[chart_key].selection.get("points", [])
        cell = next((p.get("customdata") for p in points if p.get("customdata")), None)
        if cell is not None:
            st.session_state[true_key], st.session_state[pred_key] = int(cell[0]), int(cell[1])

    st.plotly_chart(
        plots.confusion_figure(confusion, classes),
        key=chart_key,
        on_select=clicked,
        selection_mode="points",
    )
    left, right = st.columns(2)
    name: Callable[[int], str] = classes.__getitem__
    true = left.selectbox("True class", range(n), format_func=name, key=true_key)
    predicted = right.selectbox("Predicted as", range(n), format_func=name, key=pred_key)
    return int(true), int(predicted)


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


def model_bytes(result: FinetuneResult) -> bytes:
    """The download: save_trained's one file, in memory."""
    buffer = io.BytesIO()
    save_trained(result, buffer)
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
    same = (
        data is not None
        and data.classes == result.classes
        and len(data) > max(result.val_indices, default=-1)
    )
    if not same:
        st.caption("The dataset changed since this run: its validation images are not shown.")
        return
    picked = cell_images(data, result.val_indices, result.val_predictions, true, predicted)
    what = f"**{result.classes[true]}** predicted as **{result.classes[predicted]}**"
    st.markdown(f"{len(picked):,} validation images of {what}" + (":" if picked else "."))
    if picked:
        shown = picked[:24]
        images = [data.images[i].permute(1, 2, 0).numpy() for i in shown]
        st.image(
            images, width=72, caption=[data.paths[i] if data.paths else f"#{i}" for i in shown]
        )


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
    name = f"{result.config.backbone}_{len(result.classes)}_classes.pt"
    st.download_button(
        "Download the trained model",
        data=lambda: model_bytes(result),  # only serialized when clicked
        file_name=name,
        mime="application/octet-stream",
        icon=":material/download:",
        key=KEY + "download",
        on_click="ignore",
    )
    st.code(loading_snippet(name, result.classes), language="python")
    with st.expander("Without cnnviz (PyTorch and torchvision only)"):
        st.code(snippet(name), language="python")
