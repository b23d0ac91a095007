"""The Explain page's parts: the model source, the image, the cached maps and the jobs for the
slow ones, so pages/explain.py stays a short top-to-bottom script."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import numpy as np
import streamlit as st
import torch

from cnnviz import images, weights
from cnnviz.errors import CnnvizError
from cnnviz.explain import attribution, feature_maps, filters, limits, models, sanity
from cnnviz.explain import jobs as explain_jobs
from cnnviz.explain.attribution import METHODS, SLOW, Attribution, Params
from cnnviz.explain.validation import ValidationSet
from cnnviz.jobs import JobState, default_runner
from cnnviz.notation import hwc
from cnnviz.plots import explain as plots
from cnnviz.presets import slug
from cnnviz.ui import presets
from cnnviz.ui.errors import show_error
from cnnviz.ui.formulas import literal
from cnnviz.ui.inputs import bounded
from cnnviz.ui.jobs import current_job, job_panel, owner_key, remember_job

TRAINED_KEY = "transfer_learning_trained"  # where the transfer-learning page keeps its model
SOURCES = {
    "default": "LeNet-5 trained on digits",
    "imagenet": "ImageNet model (torchvision)",
    "trained": "Your fine-tuned model",
}
DIGITS_SEED = 0


@st.cache_resource(show_spinner=False)
def default_model() -> models.Explained:
    """The default LeNet-5, loaded once per server."""
    return models.default()


@st.cache_resource(show_spinner=False)
def digit_images() -> tuple[torch.Tensor, torch.Tensor, list[int]]:
    """The digits at 32x32 and the validation indices the default model never trained on."""
    from cnnviz.data import digits
    from cnnviz.explain import default_model as made

    data = digits(made.SIDE)
    return data.images, data.labels, made.split()[1].tolist()


def model_picker() -> models.Explained | None:
    """Which network to explain; None (with the reason shown) when it cannot be used."""
    options = ["default", "imagenet"]
    session_model = st.session_state.get(TRAINED_KEY)
    if session_model is not None:
        options.append("trained")
    left, right = st.columns([2, 3])
    source = presets.choice(
        left.radio, "Network", options, default="default", key="explain_source", param="net",
        format_func=SOURCES.get, horizontal=False,
    )  # fmt: skip
    if source == "default":
        right.caption(
            "LeNet-5 (the registry's modern version, 61,706 parameters) trained on scikit-learn's "
            "1,797 handwritten digits at 32x32; the digits below are from its validation split."
        )
        return default_model()
    if source == "trained":
        right.caption("The model you fine-tuned on the Transfer learning page in this session.")
        return models.trained(session_model)
    names = models.imagenet_names()
    name = presets.choice(
        right.selectbox, "ImageNet model", names, default="resnet18", key="explain_net",
        param="model",
    )  # fmt: skip
    if weights.weights_available(name):
        return models.imagenet(name)
    st.info(weights.missing_message(name), icon=":material/cloud_off:")
    random = st.toggle(
        "Explain it with random weights instead", key="explain_random",
        help="The same network untrained (seed 0): its maps show what the architecture alone "
        "draws, which is what the sanity check compares against.",
    )  # fmt: skip
    return models.imagenet(name, pretrained=False) if random else None


def image_picker(model: models.Explained) -> tuple[np.ndarray, str] | None:
    """The image to explain (H x W x 3 uint8) and a caption; None when no upload yet."""
    if model.source == "default":
        pics, labels, val = digit_images()
        column = st.columns([1, 2])[0]  # a short number: a short field
        i = presets.number(column, "Digit (index in the validation split)", limits.DIGIT_INDEX,
                           0, "explain_digit", param="digit")  # fmt: skip
        k = val[i]  # its index among the 1,797; the caption says the number the student typed
        return pics[k].permute(1, 2, 0).numpy(), f"validation digit {i}, labeled {int(labels[k])}"
    validation = trained_validation() if model.source == "trained" else None
    if model.source == "trained" and validation is None:
        st.caption(
            "Your run's validation images are no longer here (the dataset changed on the "
            "Transfer learning page, or the server freed the run): pick a photo or upload one."
        )
    own = [VALIDATION] if validation is not None else []
    source = presets.choice(
        st.selectbox, "Image", [*own, *images.PHOTOS, "Upload your own"],
        default=VALIDATION if own else "Astronaut",
        key="explain_image_trained" if own else "explain_image", param="image", name=slug,
    )  # fmt: skip
    if source == VALIDATION and validation is not None:
        return validation_picker(validation)
    if source in images.PHOTOS:
        return images.photo(source), source
    upload = st.file_uploader(
        "A photo", type=["png", "jpg", "jpeg", "bmp", "webp"], key="explain_upload"
    )
    if upload is None:
        st.info("Upload a photo to explain.", icon=":material/upload:")
        return None
    try:
        return images.decode_upload(upload.getvalue()), upload.name
    except CnnvizError as err:
        show_error(err)
        return None


VALIDATION = "A validation image (your dataset)"


def trained_validation() -> ValidationSet | None:
    """The session's fine-tuned model's validation images, from the Transfer learning page."""
    from cnnviz.ui.transfer_learning import session_validation  # its widgets: only here

    return session_validation()


def validation_picker(validation: ValidationSet) -> tuple[np.ndarray, str]:
    """A class, then one of its validation images (the model's mistakes first)."""
    classes = validation.classes
    groups = validation.by_class

    def class_label(k: int) -> str:
        n, wrong = len(groups[k]), validation.mistakes(k)
        return f"{classes[k]}: {n:,} image{'s' if n != 1 else ''}, {wrong:,} misclassified"

    filled = [k for k in range(len(classes)) if groups[k]]
    first = next((k for k in filled if validation.mistakes(k)), filled[0])
    left, right = st.columns(2)
    true = left.selectbox(
        "True class", filled, index=filled.index(first), format_func=class_label,
        key="explain_val_class", help="The validation images of each class: the run never "
        "trained on them. The ones it got wrong come first.",
    )  # fmt: skip
    items = groups[true]
    k = right.selectbox(
        "Validation image", range(len(items)), key=f"explain_val_image_{true}",
        format_func=lambda i: validation.label(items[i]),
    )  # fmt: skip
    item = items[k]
    verdict = "misclassified as" if item.wrong else "predicted"
    caption = f"{item.name}: {classes[item.true]}, {verdict} {classes[item.predicted]}"
    return validation.picture(item), caption


def coarse_layer_note(model: models.Explained, layers: dict[str, tuple], layer: str) -> None:
    """Say so when Grad-CAM's layer is coarser than 4x4 at the model's input size."""
    note = feature_maps.coarse_layer_note(layers, layer, model.image_size)
    if note is not None:
        st.info(literal(note), icon=":material/grid_4x4:")


def fingerprint(x: torch.Tensor) -> str:
    """A short hash of the input, for cache and job keys."""
    return hashlib.sha1(x.numpy().tobytes()).hexdigest()[:16]


@st.cache_data(max_entries=512, show_spinner=False)
def prediction(key: str, xid: str, _model: models.Explained, _x: torch.Tensor) -> list:
    return models.predict(_model, _x)


@st.cache_data(max_entries=512, show_spinner=False)
def layers_of(key: str, xid: str, _model: models.Explained, _x: torch.Tensor) -> dict:
    return feature_maps.spatial_layers(_model, _x)


@st.cache_data(max_entries=1024, show_spinner=False)
def attribution_map(
    key: str, xid: str, method: str, target: int, params: Params, _model: Any, _x: Any
) -> Attribution:
    """One method's map, computed once per model, input, class and settings."""
    return attribution.attribute(_model, _x, method, target, params)


@st.cache_data(max_entries=256, show_spinner=False)
def top_maps(key: str, xid: str, layer: str, k: int, _model: Any, _x: Any):
    return feature_maps.top_channels(_model, _x, layer, k)


@st.cache_data(max_entries=256, show_spinner=False)
def first_filters(key: str, _model: Any) -> filters.FilterTiles:
    return filters.first_layer_tiles(_model)


def target_picker(top: list[tuple[int, str, float]], classes: int, key: str) -> int:
    """The class to explain: the prediction, or another of the top 5 (per image: a new image
    starts from its own prediction)."""
    labels = {i: f"{name} ({p:.1%})" for i, name, p in top}
    return st.selectbox(
        "Explain the class", list(labels), format_func=labels.get, key=f"explain_target_{key}",
        help=f"The top 5 of the model's {classes:,} classes; the first is its prediction.",
    )  # fmt: skip


def method_settings(model: models.Explained, layers: dict[str, tuple]) -> Params:
    """Every method's settings, bounded by cnnviz.explain.limits."""
    side = model.image_size
    c = st.columns(4)
    steps = bounded(
        c[0],
        "IG steps",
        limits.IG_STEPS,
        32,
        "explain_steps",
        help="Integrated Gradients: points on the path from the baseline to the "
        "image where the gradient is taken.",
    )
    baseline = c[0].selectbox(
        "IG baseline",
        attribution.BASELINES,
        key="explain_baseline",
        help="Integrated Gradients' starting point: zeros after normalization, or a black image.",
    )
    samples = bounded(
        c[1],
        "SmoothGrad samples",
        limits.SMOOTHGRAD_SAMPLES,
        16,
        "explain_samples",
        help="Noisy copies of the image averaged.",
    )
    noise = bounded(
        c[1],
        "SmoothGrad noise (%)",
        limits.SMOOTHGRAD_NOISE,
        15,
        "explain_noise",
        help="The noise's standard deviation, in % of the image's value range.",
    )
    seed = bounded(
        c[1],
        "Seed",
        limits.EXPLAIN_SEED,
        0,
        "explain_seed",
        help="Draws SmoothGrad's noise and the sanity check's random weights.",
    )
    window = bounded(
        c[2],
        "Occlusion window",
        limits.OCCLUSION_WINDOW,
        max(2, side // 8),
        f"explain_window_{model.key}",
        help="Side of the covered patch, in pixels.",
    )
    stride = bounded(
        c[2],
        "Occlusion stride",
        limits.OCCLUSION_STRIDE,
        max(1, side // 16),
        f"explain_stride_{model.key}",
        help="Pixels the patch moves each step.",
    )
    names = list(layers)
    layer = c[3].selectbox(
        "Grad-CAM layer",
        names,
        index=names.index(feature_maps.default_layer(layers)),
        key=f"explain_layer_{model.key}",
        format_func=lambda n: layer_label(n, layers),
        help="The layer whose channels Grad-CAM weighs: its output's height x width x channels. "
        "A later layer knows more about the class, on a coarser grid.",
    )
    return Params(steps, baseline, samples, noise, window, stride, layer, seed)


def layer_label(name: str, layers: dict[str, tuple]) -> str:
    c, h, w = layers[name]
    return f"{name} ({h}x{w}x{c})"


def runs_inline(model: models.Explained, method: str) -> bool:
    """LeNet-5 answers in milliseconds; many passes of a large network go through a job."""
    return model.source == "default" or method not in SLOW


def job(
    fn: Callable[..., Any], args: Callable[[], tuple], signature: str, param: str, label: str
) -> Any | None:
    """Start `fn(*args())` as a job on a click (`args` is called then: a fine-tuned model is
    written to the model store for its spec only when a job needs it); its result once done,
    for these inputs only."""
    runner = default_runner()
    handle = current_job(runner, param)
    if handle is not None and st.session_state.get(f"{param}_signature") != signature:
        handle = None  # a job for other inputs (a refresh forgets the signature: start again)
    if st.button(label, key=f"{param}_start", icon=":material/play_arrow:"):
        try:
            handle = remember_job(runner.submit(fn, *args(), session=owner_key()), param)
        except CnnvizError as err:
            show_error(err)
            return None
        st.session_state[f"{param}_signature"] = signature
    if handle is None:
        return None
    progress = job_panel(handle, key=f"{param}_panel")
    if progress.state is not JobState.DONE:
        return None
    try:
        return handle.result(timeout=0)
    except CnnvizError as err:
        show_error(err)
        return None


def attributions(model, x, xid, target, methods, params) -> dict[str, Attribution]:
    """The maps of the chosen methods: cached inline ones now, slow ones from a job (which
    takes the model's spec, not the model)."""
    maps = {m: attribution_map(model.key, xid, m, target, params, model, x)
            for m in methods if runs_inline(model, m)}  # fmt: skip
    slow = [m for m in methods if not runs_inline(model, m)]
    if slow:
        names = ", ".join(METHODS[m] for m in slow)
        signature = f"{model.key}|{xid}|{target}|{slow}|{params}"
        done = job(explain_jobs.explain_maps, lambda: (model.spec(), x, target, slow, params),
                   signature, "explain_maps_job", f"Compute {names}")  # fmt: skip
        maps.update(done or {})
    return maps


def sanity_check(model, x, xid, target, methods, params) -> sanity.SanityResult | None:
    """The cascading randomization of the chosen methods, as a job."""
    signature = f"{model.key}|{xid}|{target}|{methods}|{params}"
    return job(
        explain_jobs.check_sanity, lambda: (model.spec(), x, methods, params, target),
        signature, "explain_sanity_job", "Run the sanity check",
    )  # fmt: skip


def resized(image: np.ndarray, model: models.Explained) -> np.ndarray:
    """The image as the network sees it (before normalization): the overlays' background."""
    from torchvision.transforms.v2 import functional as F

    t = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)
    side = model.image_size
    if model.source in ("imagenet", "untrained"):  # the weights' transforms: resize, center crop
        t = F.center_crop(F.resize(t, [round(side * 256 / 224)], antialias=True), [side, side])
    else:
        t = F.resize(t, [side, side], antialias=True)
    return t.permute(1, 2, 0).numpy()


@st.cache_data(max_entries=512, show_spinner=False)
def channel_map(key: str, xid: str, layer: str, index: int, _model: Any, _x: Any) -> np.ndarray:
    return feature_maps.activations(_model, _x, layer)[index].numpy()


def filter_title(tiles: filters.FilterTiles) -> str:
    out, depth, kh, kw = tiles.shape
    kind = "RGB" if tiles.rgb else "gray"
    return f"{tiles.layer}: {out} filters of {kh}x{kw}x{depth} ({kind}, each scaled on its own)"


@st.cache_data(max_entries=64, show_spinner=False)
def conv_layers(key: str, _model: Any) -> dict[str, tuple[int, ...]]:
    """Every convolution and its weight's shape (out x in x kH x kW)."""
    return {n: tuple(filters.weight(_model, n).shape) for n in filters.conv_layers(_model)}


def filter_channels(model: models.Explained, layer: str, index: int, first: bool):
    """One filter, per input channel (R, G, B or gray for the first layer; the previous
    layer's maps for a deeper one, the first 64 of them)."""
    one = filters.filter_per_channel(model, layer, index)
    n = one.tiles.shape[0]
    if first:
        names = ", ".join(["R", "G", "B"] if n == 3 else ["gray"])
        return plots.tile_grid_figure(one.tiles, f"Filter {index} per input channel ({names})",
                               cols=n, tallest=300)  # fmt: skip
    title = f"Filter {index}: its {n} input channels (previous layer's maps)"
    return plots.tile_grid_figure(one.tiles, title, cols=min(n, 16), tallest=300)


def filter_view(model: models.Explained, xid: str, x: torch.Tensor) -> None:
    """Pick a convolution and one of its filters: its weights per input channel next to the
    map it produces on the image."""
    convs = conv_layers(model.key, model)
    names = list(convs)
    left, right = st.columns([1, 2])
    layer = left.selectbox(
        "Convolution", names, key=f"explain_conv_{model.key}",
        format_func=lambda n: f"{n} ({convs[n][0]} of {hwc(*convs[n][2:], convs[n][1])})",
    )  # fmt: skip
    index = right.slider("Filter", 0, convs[layer][0] - 1, 0, key=f"explain_filter_{model.key}")
    one, feature = st.columns(2)
    one.plotly_chart(filter_channels(model, layer, index, layer == names[0]), width="stretch",
                     key="explain_filter_channels")  # fmt: skip
    feature.plotly_chart(channel_figure(model, xid, x, layer, index), width="stretch",
                         key="explain_filter_map")  # fmt: skip


def channel_figure(model: models.Explained, xid: str, x: torch.Tensor, layer: str, index: int):
    values = channel_map(model.key, xid, layer, index, model, x)
    return plots.single_map_figure(values, f"Its feature map: {layer} channel {index}")


def means_caption(fm: feature_maps.FeatureMaps) -> str:
    shown = ", ".join(f"#{c}: {m:.2f}" for c, m in zip(fm.channels[:8], fm.means[:8], strict=True))
    more = " ..." if len(fm.channels) > 8 else ""
    c, h, w = fm.shape
    return (
        f"The layer's output is {h}x{w}x{c}. Mean activations, strongest first: {shown}{more}. "
        "Each map is scaled to its own range (bright: where the channel responds most)."
    )


def overlay_grid(view: np.ndarray, maps: dict[str, Attribution], side: int) -> None:
    """One chart per method, about MAP_WIDTH px each, in a row that wraps: two per row in a
    700 px main area (a 1024 px window with the sidebar open), three at 1400 px."""
    with st.container(horizontal=True, gap="small", key="explain_maps_grid"):
        for m, a in maps.items():
            fig = plots.overlay_figure(view, attribution.heatmap(a, side), METHODS[m], MAP_WIDTH)
            st.plotly_chart(fig, width=MAP_WIDTH, key=f"explain_overlay_{m}")


MAP_WIDTH = 300


def show_maps(model: models.Explained, view: np.ndarray, x: torch.Tensor,
              maps: dict[str, Attribution], layers: dict[str, tuple]) -> None:  # fmt: skip
    """The maps in their grid, what they are in words, and what Grad-CAM's grid can show."""
    side = model.image_size
    overlay_grid(view, maps, side)
    st.caption(attribution_caption(maps, x))
    cam = maps.get("gradcam")
    line = cam and gradcam_line(layers, cam.layer or "", side, model.source == "default")
    if line:
        st.caption(line)


def input_words(x: torch.Tensor) -> str:
    """'one 64x64 color image' for a 1 x 3 x 64 x 64 batch."""
    n, c, h, w = x.shape
    kind = {1: "grayscale ", 3: "color "}.get(c, f"{c}-channel ")
    return f"{'one' if n == 1 else f'{n:,}'} {h}x{w} {kind}image{'s' if n != 1 else ''}"


def attribution_caption(maps: dict[str, Attribution], x: torch.Tensor) -> str:
    """What the maps are, in words: the input, each method's time and IG's completeness gap."""
    parts = []
    for m, a in maps.items():
        extra = ""
        if a.delta is not None:
            extra = f" (its pixel shares add up to the score's change within {a.delta:.2g})"
        parts.append(f"{METHODS[m]} {a.seconds * 1000:,.0f} ms{extra}")
    return (
        f"Explaining {input_words(x)}. Red: the pixels that counted most for the class "
        "(each map scaled so its top 1% is full red; color channels added up); clear: none. "
        "Time taken: " + "; ".join(parts) + "."
    )


def gradcam_line(layers: dict[str, tuple], layer: str, side: int, digit: bool) -> str | None:
    """What Grad-CAM's coarse map can and cannot show (None when its layer is full size)."""
    if layer not in layers:
        return None
    _, h, w = layers[layer]
    if h >= side and w >= side:
        return None
    detail, where = (
        ("stroke", "the background next to the digit") if digit
        else ("detail", "the background around the object")
    )  # fmt: skip
    return (
        f"Grad-CAM's map comes from layer {layer}, a {h}x{w} grid, stretched to {side}x{side} "
        f"px: it shows which region counted, not which {detail}, and each cell spills onto "
        f"{where}."
    )


METHOD_NOTES = """
- **Saliency**: |d score / d pixel|, how much a tiny change of each pixel changes the score.
- **Integrated Gradients**: gradients averaged along the path from a baseline to the image; the
  pixels' shares add up to score(image) - score(baseline), up to the small gap shown above
  (captum's "convergence delta": fewer steps, a larger gap).
- **SmoothGrad**: saliency averaged over noisy copies of the image: less speckle.
- **Grad-CAM**: the layer's channels weighted by their mean gradient; coarse (the layer's grid),
  upsampled to the image.
- **Occlusion**: how much the score drops when a patch is covered (the baseline's value).
- **Guided Backprop**: gradients with the negative ones stopped at every ReLU (a network without
  ReLUs, like LeNet-5's tanh, gives plain gradients).
"""

SANITY_TEXT = (
    "**Sanity check** (Adebayo et al. 2018): re-initialize the weights block by block from the "
    "output back to the input, and redraw each method's map after every step. Under each map: "
    "its Spearman rank correlation (rho) with the trained model's map (1: the same ranking of "
    "pixels, 0: unrelated). A map that explains the *model* must change once the model is "
    "destroyed."
)
SANITY_GRID_NOTE = (
    "A row per method; the first column is the trained model, each next column randomizes one "
    "more block (+ its name), down to the input. Each map is scaled to its own top 1%."
)


def sanity_text(result: sanity.SanityResult) -> str:
    return sanity.verdict_text(result, METHODS)
