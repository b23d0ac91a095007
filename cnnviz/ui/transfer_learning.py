"""The transfer-learning page's widgets: the dataset (built in or uploaded, decoded once per
session), the set-up, the live training panel and the results.

Per-session files (an unpacked zip, an uploaded weights file) go into one `Workspace` kept in
st.session_state. When the session ends Streamlit drops its session state; the Workspace's
weakref finalizer then removes the folder, and at the latest the same finalizer runs at exit.
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import streamlit as st
import torch

from cnnviz import limits
from cnnviz.data import BUILTIN, ImageDataset, Workspace, load_dataset, load_files
from cnnviz.data import load_state_dict_file as read_weights
from cnnviz.errors import CnnvizError
from cnnviz.images import decode_upload
from cnnviz.jobs import JobHandle, JobState, Progress, default_runner, devices
from cnnviz.notation import duration
from cnnviz.plots import transfer_learning as plots
from cnnviz.train import (
    BACKBONES,
    SMALL_BELOW,
    STRATEGIES,
    Estimate,
    FinetuneConfig,
    FinetuneResult,
    TrainedModel,
    backbone_weights_status,
    block_names,
    estimate,
    finetune,
    predict,
    recommend,
    save_trained,
    snippet,
)
from cnnviz.ui import presets
from cnnviz.ui.errors import show_error
from cnnviz.ui.inputs import bounded, bounded_float
from cnnviz.ui.jobs import current_job, job_panel, remember_job, session_key

KEY = "transfer_learning_"
WORKSPACE = KEY + "workspace"
DATASET = KEY + "dataset"  # (what was uploaded, image side) -> the decoded dataset or its error
TRAINED = KEY + "trained"  # the TrainedModel the Explain page offers
SOURCES = {
    "digits": "Digits (built in)",
    "lfw": "Faces (built in)",
    "zip": "Upload a .zip",
    "folder": "Upload a folder",
}


def workspace() -> Workspace:
    """This session's temporary folder (made on first use)."""
    space = st.session_state.get(WORKSPACE)
    if space is None or space.closed:
        space = st.session_state[WORKSPACE] = Workspace()
    return space


@st.cache_resource(max_entries=8, show_spinner=False)
def builtin(name: str, size: int) -> ImageDataset:
    """A built-in dataset, shared by every session (read-only: the same for the whole class)."""
    return BUILTIN[name](size)


def _decode(files: Sequence[Any], folder: bool, size: int) -> ImageDataset:
    bar = st.progress(0.0, text="Decoding the images")

    def progress(done: int, total: int) -> None:
        if done % 50 == 0 or done == total:  # one message per 50 files, not per file
            bar.progress(done / max(total, 1), text=f"Decoding the images: {done:,} of {total:,}")

    try:
        if folder:
            named = ((f.name, f.getvalue()) for f in files)
            return load_files(named, size=size, workspace=workspace(), progress=progress)
        return load_dataset(files[0], size=size, workspace=workspace(), progress=progress)
    finally:
        bar.empty()


def uploaded_dataset(files: Sequence[Any], folder: bool, size: int) -> ImageDataset | None:
    """The uploaded zip or folder, decoded once per upload (name and size of every file) and
    image side: later reruns take it from the session. Errors are shown, and kept too."""
    key = (tuple((f.name, f.size) for f in files), folder, size)
    held = st.session_state.get(DATASET)
    if held is None or held[0] != key:
        try:
            held = (key, _decode(files, folder, size))
        except CnnvizError as err:
            held = (key, err)
        st.session_state[DATASET] = held
    if isinstance(held[1], CnnvizError):
        show_error(held[1])
        return None
    return held[1]


def choose_source() -> str:
    """Built in or uploaded, and how."""
    return presets.choice(
        st.radio,
        "Dataset",
        list(SOURCES),
        default=next(iter(SOURCES)),
        param="data",
        format_func=SOURCES.get,
        horizontal=True,
        key=KEY + "source",
        help="Upload one folder per class (ImageFolder layout), as a .zip or the folder itself.",
    )


def dataset(source: str, size: int) -> ImageDataset | None:
    """The chosen dataset at size x size (for an upload: its uploader, then the dataset)."""
    if source in BUILTIN:
        return builtin(source, size)
    if source == "zip":
        upload = st.file_uploader("A .zip with one folder per class", type=["zip"], key=KEY + "zip")
        files = [upload] if upload is not None else []
    else:
        files = st.file_uploader(
            "A folder holding one folder per class",
            accept_multiple_files="directory",
            key=KEY + "folder",
        )
    if not files:
        st.info("Upload a dataset, or pick a built-in one.", icon=":material/upload:")
        return None
    return uploaded_dataset(files, source == "folder", size)


def show_dataset(data: ImageDataset) -> None:
    """Counts, a sample of every class and the files that were left out."""
    cols = st.columns(3)
    cols[0].metric("Images", f"{len(data):,}")
    cols[1].metric("Classes", len(data.classes))
    cols[2].metric("Image size", f"{data.size}x{data.size}")
    left, right = st.columns([2, 3])
    left.plotly_chart(plots.class_counts_figure(data.counts()), key=KEY + "counts")
    right.plotly_chart(
        plots.sample_grid_figure(data.images, data.labels, data.classes), key=KEY + "samples"
    )
    if data.skipped:
        with st.expander(f"{len(data.skipped):,} files skipped"):
            st.dataframe([{"file": s.path, "why": s.reason} for s in data.skipped], hide_index=True)


def image_size() -> int:
    """The side every image is resized to: ImageNet's 224 on a GPU, 32 on a CPU (49x fewer
    pixels, so a class on a 2-core server sees curves soon; AlexNet needs 63, and says so)."""
    return presets.number(
        st,
        "Image side (pixels)",
        limits.TRAIN_IMAGE_SIZE,
        224 if devices.default().is_cuda else 32,
        KEY + "image_size",
        param="size",
        help="Every image is resized to this side once, when the dataset is decoded.",
    )


def weights_file() -> str | None:
    """An uploaded state dict, written into the session's folder and checked; its path."""
    upload = st.file_uploader(
        "A state-dict file (.pt, .pth)",
        type=["pt", "pth", "bin"],
        key=KEY + "weights_file",
        # VGG-16's weights (528 MB) are over the app's 200 MB upload limit for datasets.
        max_upload_size=limits.WEIGHTS_FILE_BYTES.high // 1_000_000,
    )
    if upload is None:
        return None
    key = KEY + "weights_path"
    held = st.session_state.get(key)
    if held is None or held[0] != (upload.name, upload.size):
        path = workspace().folder("weights") / "state_dict.pt"
        path.write_bytes(upload.getvalue())
        try:
            read_weights(path)
            held = ((upload.name, upload.size), str(path))
        except CnnvizError as err:
            held = ((upload.name, upload.size), err)
        st.session_state[key] = held
    if isinstance(held[1], CnnvizError):
        show_error(held[1])
        return None
    return held[1]


def last_blocks_limit(n_blocks: int) -> limits.Limit:
    """The last-N input's range for a backbone with n_blocks blocks."""
    return dataclasses.replace(limits.TRAIN_LAST_BLOCKS, high=n_blocks)


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


# --- Set-up ---------------------------------------------------------------------------------
STRATEGY_NAMES = {
    "linear": "Linear probe (freeze all, train a new head)",
    "last": "Fine-tune the last blocks",
    "full": "Full fine-tune",
}
# Two short lines per cell: one line overflowed the cells at 1024 px.
TABLE_NAMES = {
    "linear": "Linear probe",
    "last": "Fine-tune the<br>last blocks",
    "full": "Full<br>fine-tune",
}
WEIGHT_NAMES = {"imagenet": "ImageNet", "none": "Random initialization", "file": "Upload a file"}
JOB = KEY + "job"  # the query parameter holding the job's id
JOB_EPOCHS = KEY + "job_epochs"


def choose_weights(backbone: str) -> str | None:
    """'imagenet', 'none' or a state-dict path; None while the choice cannot be used."""
    available, message = backbone_weights_status(backbone)
    choice = st.radio(
        "Weights",
        list(WEIGHT_NAMES),
        index=0 if available else 1,
        format_func=WEIGHT_NAMES.get,
        horizontal=True,
        key=KEY + "weights",
    )
    if choice == "imagenet":
        if not available:
            st.warning(message, icon=":material/cloud_off:")
            return None
        st.caption(message)
        return "imagenet"
    if choice == "none":
        st.caption("Random initialization: what pretraining saves you, as a curve.")
        return "none"
    return weights_file()


def strategy_table(n_images: int, similar: bool) -> None:
    """The lecture's 2x2 table with this dataset's cell highlighted, and why."""
    cells = {
        (size, like): TABLE_NAMES[recommend(n, like).strategy]
        for size, n in (("small", 1), ("large", SMALL_BELOW))
        for like in (True, False)
    }
    advice = recommend(n_images, similar)
    fig = plots.strategy_table_figure(cells, (advice.size, advice.similar), n_images)
    st.plotly_chart(fig, key=KEY + "table")
    st.caption(f"Small means fewer than {SMALL_BELOW:,} images, a rule of thumb. {advice.reason}")


def choose_config(data: ImageDataset, size: int) -> FinetuneConfig | None:
    """Every choice of the run, bounded; None (with the reason shown) when one cannot be used."""
    left, right = st.columns([3, 2])
    with left:
        backbone = presets.choice(
            st.selectbox,
            "Backbone",
            BACKBONES,
            default=BACKBONES[0],
            key=KEY + "backbone",
            param="backbone",
        )
        weights = choose_weights(backbone)
        strategy = presets.choice(
            st.radio,
            "Strategy",
            STRATEGIES,
            default=STRATEGIES[0],
            param="strategy",
            format_func=STRATEGY_NAMES.get,
            key=KEY + "strategy",
        )
        blocks = block_names(backbone)
        last = 1
        if strategy == "last":
            limit = last_blocks_limit(len(blocks))
            last = bounded(st, "Last blocks to fine-tune", limit, min(2, len(blocks)), KEY + "last")
        similar = presets.toggle(
            st.toggle,
            "My images look like ImageNet photos",
            default=True,
            key=KEY + "similar",
            param="similar",
        )
        strategy_table(len(data), similar)
    with right:
        trained = plots.trained_blocks(len(blocks), strategy, last)
        st.plotly_chart(plots.freeze_figure(blocks, trained, backbone), key=KEY + "freeze")
    cols = st.columns(5)
    epochs = presets.number(
        cols[0], "Epochs", limits.TRAIN_EPOCHS, 3, KEY + "epochs", param="epochs"
    )
    batch = bounded(cols[1], "Batch size", limits.TRAIN_BATCH_SIZE, 32, KEY + "batch")
    lr = bounded_float(cols[2], "Learning rate", limits.TRAIN_LR, 1e-3, KEY + "lr", format="%.4f")
    val = bounded_float(
        cols[3],
        "Validation",  # "Validation fraction" took two lines at 1024 px
        limits.TRAIN_VAL_FRACTION,
        0.2,
        KEY + "val",
        help="The share of each class held out to measure accuracy on images it never trained on.",
    )
    seed = bounded(cols[4], "Seed", limits.TRAIN_SEED, 0, KEY + "seed")
    if weights is None:
        return None
    try:
        return FinetuneConfig(
            backbone=backbone,
            weights=weights,
            strategy=strategy,
            last_blocks=last,
            epochs=epochs,
            image_size=size,
            batch_size=batch,
            lr=lr,
            val_fraction=val,
            seed=seed,
        )
    except CnnvizError as err:
        show_error(err)
        return None


# The timing probe runs off the script thread (a full fine-tune's probe takes seconds on a busy
# CPU): one probe at a time for the whole server, so a class changing settings cannot pile up
# probes that compete with the training jobs.
_PROBES = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cnnviz-estimate")
ESTIMATE = KEY + "estimate"


def show_estimate(data: ImageDataset, config: FinetuneConfig) -> Future[Estimate]:
    """Device, estimated time and trainable parameters, once the probe for these choices has
    run (once per choice: not again for a new seed or learning rate)."""
    key = (id(data), dataclasses.replace(config, seed=0, lr=1e-3, head_lr_factor=10.0))
    held = st.session_state.get(ESTIMATE)
    if held is None or held[0] != key:
        held = (key, _PROBES.submit(estimate, data, config))
        st.session_state[ESTIMATE] = held
    probe = held[1]
    # Once a second, as the job panel: each timed run is a chance for a click to meet it.
    st.fragment(_estimate_panel, run_every=None if probe.done() else 1.0)(probe)
    return probe


def _estimate_panel(probe: Future[Estimate]) -> None:
    waited = ESTIMATE + "_waiting"
    if not probe.done():
        st.session_state[waited] = True
        st.caption("Timing a few training steps for the estimate...")
        return
    if st.session_state.pop(waited, False):
        st.rerun(scope="app")  # stops this panel's timer
    err = probe.exception()
    if isinstance(err, CnnvizError):
        show_error(err)
        return
    e = probe.result()  # any other error is a bug: let it show
    cols = st.columns(3)
    cols[0].metric("Device", e.device_name)
    cols[1].metric("Estimated time", duration(e.seconds))
    cols[2].metric(
        "Trainable parameters",
        f"{e.trainable_parameters:,}",
        help=f"Of {e.total_parameters:,} in all.",
    )


def estimated_seconds(probe: Future[Estimate] | None) -> float | None:
    """The probe's estimate if it is ready (the queue shows the wait to those behind)."""
    if probe is None or not probe.done() or probe.exception() is not None:
        return None
    return probe.result().seconds


# --- Training -------------------------------------------------------------------------------
def start(
    data: ImageDataset, config: FinetuneConfig, probe: Future[Estimate] | None
) -> JobHandle | None:
    """Submit the run for this session; errors (one job at a time) are shown."""
    try:
        handle = default_runner().submit(
            finetune, data, config, session=session_key(), estimate=estimated_seconds(probe)
        )
    except CnnvizError as err:
        show_error(err)
        return None
    st.session_state[JOB_EPOCHS] = config.epochs
    return remember_job(handle, JOB)


def job() -> JobHandle | None:
    """This tab's run, after a refresh too."""
    return current_job(default_runner(), JOB)


def live_panel(handle: JobHandle) -> Progress:
    """Progress bar, ETA, stop button and the curves, redrawn while the job runs."""
    epochs = st.session_state.get(JOB_EPOCHS)

    def draw(p: Progress) -> None:
        st.plotly_chart(plots.curves_figure(p.metrics, epochs), key=KEY + "curves")

    return job_panel(handle, key=KEY + "panel", draw=draw)


def finished_result(handle: JobHandle, progress: Progress) -> FinetuneResult | None:
    """The run's result once it is done (or stopped with what it had learned)."""
    if progress.state not in (JobState.DONE, JobState.STOPPED):
        return None
    try:
        return handle.result(timeout=0)
    except CnnvizError as err:
        show_error(err, warning=True)
        return None


# --- Results --------------------------------------------------------------------------------
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
