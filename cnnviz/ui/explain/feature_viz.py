"""The Explain page's "What a channel wants to see" tab: feature visualization (Olah et al.
2017) of a layer's channels or the class logits, run as a job, beside the reference images
that activate the same channels most."""

from __future__ import annotations

import numpy as np
import streamlit as st
import torch

from cnnviz.augment import limits as augment_limits
from cnnviz.errors import CnnvizError
from cnnviz.explain import feature_maps, filters, models
from cnnviz.explain import jobs as explain_jobs
from cnnviz.explain import limits as explain_limits
from cnnviz.explain.feature_viz import LOGITS, Settings, Study
from cnnviz.explain.reference_images import ReferenceImages, by_reference
from cnnviz.ui.errors import show_error
from cnnviz.ui.explain.common import job
from cnnviz.ui.explain.pickers import trained_validation
from cnnviz.ui.inputs import bounded

JOB = "explain_fv_job"
DISPLAY = 128  # the side the images are drawn at (nearest neighbour: LeNet's 32 px stay crisp)

INTRO = (
    "**Feature visualization** (Olah, Mordvintsev and Schubert, Distill 2017): start from gray "
    "noise and change the *image* by gradient ascent until the chosen channel (or class) "
    "responds as strongly as it can. Regularized as in the paper: the image lives in a "
    "Fourier basis with decorrelated colors (no high-frequency static), and every step "
    "it is jittered, scaled and rotated a little, so only patterns that survive a shift grow. "
    "Beside each one: the reference images that excite the same channel most."
)


@st.cache_data(max_entries=64, show_spinner=False)
def visual_layers(key: str, side: int, _model: models.Explained) -> dict[str, tuple]:
    """The layers with channels (C x H x W outputs) at this side, then the logits."""
    x = _model.preprocess(torch.zeros(3, side, side, dtype=torch.uint8))
    shapes = dict(feature_maps.spatial_layers(_model, x))
    shapes[LOGITS] = (len(_model.classes), 1, 1)
    return shapes


@st.cache_data(max_entries=64, show_spinner=False)
def first_choice(key: str, side: int, _model: models.Explained) -> str:
    """The last convolution whose map is larger than 1x1 (LeNet-5's c3, ResNet's last block's
    conv2): deep, before any squashing, still with a place."""
    layers = visual_layers(key, side, _model)
    convs = [n for n in filters.conv_layers(_model) if n in layers and layers[n][1] > 1]
    spatial = {n: shape for n, shape in layers.items() if n != LOGITS}
    return convs[-1] if convs else feature_maps.default_layer(spatial)


def reference_images(
    model: models.Explained,
) -> tuple[np.ndarray | ReferenceImages, list[str], str]:
    """The images to rank as the job takes them (built-in ones by name, a run's validation
    images as N x H x W x 3 uint8), their names, and what they are."""
    if model.source == "default":
        digits = ReferenceImages("digits")
        return digits, digits.load()[1], "validation digits"
    if model.source == "trained":
        validation = trained_validation()
        if validation is not None:
            items = [item for group in validation.by_class for item in group]
            index = torch.tensor([item.index for item in items])
            pictures = validation.images[index].permute(0, 2, 3, 1).contiguous().numpy()
            return pictures, [item.name for item in items], "validation images of your run"
    photos = ReferenceImages("photos", model.image_size)
    what = "crops of the built-in photos (ImageNet's are not on the server)"
    return photos, photos.load()[1], what


def enlarged(picture: np.ndarray, side: int = DISPLAY) -> np.ndarray:
    """An H x W x 3 image repeated pixel by pixel up to about `side` (no blur)."""
    k = max(1, side // picture.shape[0])
    return picture.repeat(k, axis=0).repeat(k, axis=1)


def _label(name: str, layers: dict[str, tuple]) -> str:
    c, h, w = layers[name]
    return f"Class logits ({c} classes)" if name == LOGITS else f"{name} ({h}x{w}x{c})"


def feature_visualization(model: models.Explained) -> None:
    """The tab: pick a layer and its channels (or classes), optimize as a job, show results."""
    st.markdown(INTRO)
    c = st.columns([2, 3])
    side = model.image_size
    if not model.fixed_size:
        side = bounded(c[0], "Image side (px)", explain_limits.FEATURE_VIZ_SIDE,
                       min(model.image_size, 128), f"explain_fv_side_{model.key}")  # fmt: skip
    try:
        layers = visual_layers(model.key, side, model)
    except CnnvizError as err:
        show_error(err)
        return
    names = list(layers)
    start = first_choice(model.key, side, model)
    layer = c[0].selectbox(
        "Layer", names, index=names.index(start), key=f"explain_fv_layer_{model.key}",
        format_func=lambda n: _label(n, layers),
        help="A convolution's channels, or the class scores before the softmax (logits).",
    )  # fmt: skip
    width = layers[layer][0]
    is_class = layer == LOGITS
    options = list(range(width))
    chosen = c[1].multiselect(
        "Classes" if is_class else "Channels", options,
        default=options[: min(4, width)], max_selections=explain_limits.FEATURE_VIZ_CHANNELS.high,
        key=f"explain_fv_channels_{model.key}_{layer}",
        format_func=(lambda i: f"{i}: {model.classes[i]}") if is_class else str,
        help=explain_limits.FEATURE_VIZ_CHANNELS.help,
    )  # fmt: skip
    s = st.columns(3)
    steps = bounded(s[0], "Steps", explain_limits.FEATURE_VIZ_STEPS,
                    256 if model.source == "default" else 128, "explain_fv_steps")  # fmt: skip
    seed = bounded(s[1], "Seed", augment_limits.SEED, 0, "explain_fv_seed")
    k = bounded(s[2], "Top images per channel", explain_limits.FEATURE_VIZ_TOP, 6, "explain_fv_top")
    if not chosen:
        st.info("Pick at least one channel.", icon=":material/touch_app:")
        return
    pictures, picture_names, what = reference_images(model)
    settings = Settings(steps=steps, side=side, seed=seed)
    signature = f"{model.key}|{layer}|{chosen}|{settings}|{k}|{len(picture_names)}"
    count = f"{len(chosen)} {'class' if is_class else 'channel'}{'es' if is_class else 's'}"
    result = job(
        explain_jobs.study_channels,
        lambda: (model.spec(), layer, chosen, settings, by_reference(pictures), k),
        signature, JOB,
        f"Optimize the images ({count})" if len(chosen) > 1 else "Optimize the image",
    )  # fmt: skip
    if result is not None:
        show_study(result, model, picture_names, what)


def show_study(result: Study, model: models.Explained, names: list[str], what: str) -> None:
    """Per channel: the optimized image, then the reference images that excite it most."""
    viz, top = result.visualization, result.top
    is_class = viz.layer == LOGITS
    for j, channel in enumerate(viz.channels):
        title = f"class {channel} ({model.classes[channel]})" if is_class else (
            f"{viz.layer} channel {channel}")  # fmt: skip
        st.markdown(f"**{title}**")
        cols = st.columns(1 + len(top.indices[j]))
        cols[0].image(
            enlarged(viz.images[j]), caption=f"optimized: {viz.activations[j]:.2f}",
            width="stretch",
        )  # fmt: skip
        for col, i, a, picture in zip(
            cols[1:], top.indices[j], top.activations[j], result.pictures[j], strict=True
        ):
            col.image(enlarged(picture), caption=f"{names[i]}: {a:.2f}", width="stretch")
    kind = "logit" if is_class else "mean activation"
    s = viz.settings
    st.caption(
        f"The number under each image is its {kind}, measured on the 8-bit image through the "
        f"model's own preprocessing. Reference images: the {what}. {s.steps} steps of Adam at "
        f"{s.side}x{s.side} px, seed {s.seed}, {viz.seconds:.1f} s."
    )
