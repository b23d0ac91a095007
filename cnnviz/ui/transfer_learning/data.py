"""The transfer-learning page's data: a built-in dataset or an upload (a zip or a folder),
decoded once per session, and what it holds (files skipped, exact duplicates)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go
import streamlit as st

from cnnviz.data import BUILTIN, ImageDataset, load_dataset, load_files
from cnnviz.errors import CnnvizError
from cnnviz.jobs import devices
from cnnviz.notation import counted
from cnnviz.plots import transfer_learning as plots
from cnnviz.train import limits
from cnnviz.ui import cache, presets
from cnnviz.ui.errors import show_error
from cnnviz.ui.transfer_learning.common import KEY, workspace

DATASET = KEY + "dataset"  # (what was uploaded, image side) -> the decoded dataset or its error
SOURCES = {
    "digits": "Digits (built in)",
    "lfw": "Faces (built in)",
    "textures": "Textures (built in)",
    "zip": "Upload a .zip",
    "folder": "Upload a folder",
}


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


def samples_figure(data: ImageDataset) -> go.Figure:
    """A sample of every class (`cache.figure` keys it by the dataset's content)."""
    return plots.sample_grid_figure(data.images, data.labels, data.classes)


def show_dataset(data: ImageDataset) -> None:
    """Counts, a sample of every class and the files that were left out."""
    cols = st.columns(3)
    cols[0].metric("Images", f"{len(data):,}")
    cols[1].metric("Classes", len(data.classes))
    cols[2].metric("Image size", f"{data.size}x{data.size}")
    left, right = st.columns([2, 3])
    # Built once per server for a dataset's content (cnnviz.ui.cache): a class on the digits
    # shares them.
    left.plotly_chart(cache.figure(plots.class_counts_figure, data.counts()), key=KEY + "counts")
    right.plotly_chart(cache.figure(samples_figure, data), key=KEY + "samples")
    if data.skipped:
        with st.expander(f"{counted(len(data.skipped), 'file')} skipped"):
            st.dataframe([{"file": s.path, "why": s.reason} for s in data.skipped], hide_index=True)
    show_duplicates(data)


def _groups(count: int) -> str:
    return f"{count:,} group{'' if count == 1 else 's'}"


def duplicates_notice(data: ImageDataset) -> tuple[str, str | None]:
    """What the page says about the dataset's exact duplicates: every group, then those that
    sit in two classes (None when there are none)."""
    groups = data.duplicates
    copies = sum(len(g) for g in groups)
    said = (
        f"**{_groups(len(groups))} of exact duplicates**: {copies:,} images share their pixels "
        "with another one (a photo copied under another name, or saved twice). Each group stays "
        "on one side of the train/validation split, so no validation image has a twin the model "
        "trained on. Delete the extra copies: they count twice in training."
    )
    across = data.across_classes()
    if not across:
        return said, None
    images = sum(len(g) for g in across)
    slip = (
        f"**The same image in two classes**: {_groups(len(across))} ({images:,} images) sit in "
        "two class folders at once, a labeling slip? They are used for training only, never "
        "scored in validation. Keep each image in the one folder of its class."
    )
    return said, slip


def show_duplicates(data: ImageDataset) -> None:
    """The exact duplicates: a notice, a second one for copies in two classes, and the files."""
    if not data.duplicates:
        return
    said, slip = duplicates_notice(data)
    st.warning(said, icon=":material/content_copy:")
    if slip is not None:
        st.warning(slip, icon=":material/label_off:")
    across = {id(g) for g in data.across_classes()}
    rows = [
        {
            "group": number,
            "file": data.name(i),
            "class": data.classes[int(data.labels[i])],
            "in two classes": "yes" if id(group) in across else "",
        }
        for number, group in enumerate(data.duplicates, 1)
        for i in group
    ]
    with st.expander(f"{_groups(len(data.duplicates))} of exact duplicates: the files"):
        st.dataframe(rows, hide_index=True)


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
