"""The transfer-learning page's set-up: backbone, weights, strategy (the lecture's freeze/train
drawing and its 2x2 table) and the bounded training settings."""

from __future__ import annotations

import dataclasses

import streamlit as st

from cnnviz import limits, synthetic
from cnnviz.data import ImageDataset
from cnnviz.data import limits as data_limits
from cnnviz.errors import CnnvizError
from cnnviz.plots import transfer_learning as plots
from cnnviz.train import (
    BACKBONES,
    SMALL_BELOW,
    STRATEGIES,
    FinetuneConfig,
    backbone_weights_status,
    block_names,
    check_weights_file,
    default_weights,
    recommend,
    weights_file_mb,
)
from cnnviz.train import limits as train_limits
from cnnviz.train.backbones import BackboneSpec, spec
from cnnviz.train.config import DEFAULT_EPOCHS, default_last_blocks
from cnnviz.ui import cache, presets
from cnnviz.ui.errors import show_error
from cnnviz.ui.inputs import bounded, bounded_float
from cnnviz.ui.transfer_learning.common import KEY, run_weights, workspace

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
WEIGHTS_PATH = KEY + "weights_path"  # ((name, size, file id, backbone), path or refusal)
WEIGHTS_FOLDER = "weights"
WEIGHT_NAMES = {
    "imagenet": "ImageNet",
    "synthetic": "Synthetic (fractals)",
    "none": "Random initialization",
    "file": "Upload a file",
}


def weights_file(backbone: BackboneSpec) -> str | None:
    """An uploaded state dict, checked against `backbone` as it arrives (check_weights_file:
    the CLI's check) and kept in the session's folder while it is in use; its path."""
    too_large = weights_upload_refusal(backbone)
    if too_large:
        st.info(too_large, icon=":material/upload_file:")
    upload = st.file_uploader(
        "A state-dict file (.pt, .pth)",
        type=["pt", "pth", "bin"],
        key=KEY + "weights_file",
        # The server's limit (no widget can accept more: cnnviz.data.limits.UPLOAD_MB says why).
        max_upload_size=data_limits.UPLOAD_MB.high,
        help=f"Up to {data_limits.UPLOAD_MB.high} MB. {data_limits.UPLOAD_MB.why}",
    )
    if upload is None:
        drop_weights_file()
        return None
    # (name, size) first: the run's settings name the file as uploaded (training.weights_words).
    upload_id = (upload.name, upload.size, getattr(upload, "file_id", None), backbone.name)
    held = st.session_state.get(WEIGHTS_PATH)
    if held is None or held[0] != upload_id:
        held = (upload_id, keep_weights_file(upload.getvalue(), backbone))
        st.session_state[WEIGHTS_PATH] = held
    if isinstance(held[1], CnnvizError):
        show_error(held[1])
        return None
    return held[1]


def keep_weights_file(data: bytes, backbone: BackboneSpec) -> str | CnnvizError:
    """The upload written into the session's folder in place of the previous one (a queued or
    running run's file stays) and checked against `backbone`: its path, or why it is refused
    (a refused file is removed at once)."""
    space = workspace()
    space.keep_only(WEIGHTS_FOLDER, run_weights())
    try:
        path = space.store(WEIGHTS_FOLDER, data, "state_dict.pt")
    except CnnvizError as err:  # SessionDiskFull: nothing was written
        return err
    try:
        check_weights_file(backbone, path)
    except CnnvizError as err:
        space.remove(path)
        return err
    return str(path)


def drop_weights_file() -> None:
    """No file in the uploader (removed, or another choice of weights): its copy goes."""
    if st.session_state.pop(WEIGHTS_PATH, None) is not None:
        workspace().keep_only(WEIGHTS_FOLDER, run_weights())


def last_blocks_limit(n_blocks: int) -> limits.Limit:
    """The last-N input's range for a backbone with n_blocks blocks."""
    return dataclasses.replace(train_limits.TRAIN_LAST_BLOCKS, high=n_blocks)


def choose_weights(backbone: BackboneSpec) -> str | None:
    """'imagenet', 'synthetic', 'none' or a state-dict path; None while the choice cannot be
    used. The default: ImageNet when its file is here, else the synthetic backbone."""
    available, message = backbone_weights_status(backbone)
    options = list(WEIGHT_NAMES)
    choice = st.radio(
        "Weights",
        options,
        index=options.index(default_weights(backbone)),
        format_func=WEIGHT_NAMES.get,
        horizontal=True,
        key=KEY + "weights",
    )
    if choice != "file":
        drop_weights_file()
    if choice == "imagenet":
        if not available:
            st.warning(message, icon=":material/cloud_off:")
            return None
        st.caption(message)
        return "imagenet"
    if choice == "synthetic":
        if not synthetic.supports(backbone.name):
            st.warning(
                f"The synthetic backbone is a {synthetic.BACKBONE}: pick {synthetic.BACKBONE} "
                f"as the backbone, or ImageNet or random weights for {backbone.name}.",
                icon=":material/warning:",
            )
            return None
        if not synthetic.available(backbone.name):
            st.warning(
                "The synthetic backbone's file is missing from this copy of the app: the "
                "teacher runs `make assets` to build it (about 20 minutes).",
                icon=":material/warning:",
            )
            return None
        st.caption(synthetic.description())
        return "synthetic"
    if choice == "none":
        st.caption(
            "Random initialization: what pretraining gives you is the difference between "
            "these curves and a pretrained start. Nothing here is pretrained, so a linear "
            "probe has only random features to work with."
        )
        return "none"
    return weights_file(backbone)


def weights_upload_refusal(backbone: BackboneSpec) -> str | None:
    """Why `backbone`'s full weights cannot be uploaded here, and where they can go instead;
    None when its ImageNet file (torchvision's size) fits the upload limit."""
    size = weights_file_mb(backbone)
    if size <= data_limits.UPLOAD_MB.high:
        return None
    return (
        f"A full {backbone.name} state dict is about {size:,.0f} MB, over the "
        f"{data_limits.UPLOAD_MB.high} MB the server accepts per upload. The command line trains "
        f"it from a file: `python -m cnnviz finetune DATA --backbone {backbone.name} --weights "
        "FILE --epochs 1`."
    )


def strategy_table(n_images: int, similar: bool, weights: str) -> None:
    """The lecture's 2x2 table with this dataset's cell highlighted, and why: with random
    weights every cell says to train the whole network; the synthetic backbone highlights the
    "different from ImageNet" row (it saw fractals only)."""
    table_weights = "none" if weights == "none" else "imagenet"  # the lecture's own cells
    cells = {
        (size, like): TABLE_NAMES[recommend(n, like, table_weights).strategy]
        for size, n in (("small", 1), ("large", SMALL_BELOW))
        for like in (True, False)
    }
    advice = recommend(n_images, similar, weights)
    chosen = (advice.size, advice.similar)
    fig = cache.figure(plots.strategy_table_figure, cells, chosen, n_images)  # once per server
    st.plotly_chart(fig, key=KEY + "table")
    st.caption(f"Small means fewer than {SMALL_BELOW:,} images, a rule of thumb. {advice.reason}")


def expectation(weights: str | None, strategy: str) -> None:
    """What to expect before Train is pressed, when the choice is a linear probe on random
    features."""
    if weights == "none" and strategy == "linear":
        st.warning(
            "A linear probe on random weights trains a classifier on random features: expect "
            "little beyond what the raw pixels show: digits still separate, textures and photos "
            "far less well than on pretrained features. "
            "Fine-tune the last blocks or the whole network, or pick pretrained weights.",
            icon=":material/info:",
        )


def choose_config(data: ImageDataset, size: int) -> FinetuneConfig | None:
    """Every choice of the run, bounded; None (with the reason shown) when one cannot be used."""
    left, right = st.columns([3, 2])
    with left:
        name = presets.choice(
            st.selectbox,
            "Backbone",
            BACKBONES,
            default=BACKBONES[0],
            key=KEY + "backbone",
            param="backbone",
        )
        backbone = spec(name)  # resolved once: the helpers below take the spec
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
        last = default_last_blocks(backbone)
        if strategy == "last":
            limit = last_blocks_limit(len(blocks))
            last = bounded(st, "Last blocks to fine-tune", limit, last, KEY + "last")
        similar = presets.toggle(
            st.toggle,
            "My images look like ImageNet photos",
            default=True,
            key=KEY + "similar",
            param="similar",
        )
        strategy_table(len(data), similar, weights or "imagenet")
        expectation(weights, strategy)
    with right:
        trained = plots.trained_blocks(len(blocks), strategy, last)
        fig = cache.figure(plots.freeze_figure, tuple(blocks), tuple(trained), name)
        st.plotly_chart(fig, key=KEY + "freeze")
    cols = st.columns(5)
    epochs = presets.number(
        cols[0], "Epochs", train_limits.TRAIN_EPOCHS, DEFAULT_EPOCHS, KEY + "epochs", param="epochs"
    )
    batch = bounded(cols[1], "Batch size", train_limits.TRAIN_BATCH_SIZE, 32, KEY + "batch")
    lr = bounded_float(
        cols[2], "Learning rate", train_limits.TRAIN_LR, 1e-3, KEY + "lr", format="%.4f"
    )
    val = bounded_float(
        cols[3],
        "Validation",  # "Validation fraction" took two lines at 1024 px
        train_limits.TRAIN_VAL_FRACTION,
        0.2,
        KEY + "val",
        help="The share of each class held out to measure accuracy on images it never trained on.",
    )
    seed = bounded(cols[4], "Seed", train_limits.TRAIN_SEED, 0, KEY + "seed")
    try:  # without usable weights, still check the rest (a too small image says so)
        config = FinetuneConfig(
            backbone=name,
            weights=weights or "none",
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
    return config if weights is not None else None
