"""The Explain page's Attributions tab: each method's settings (bounded), the maps (cached inline,
or a job for the slow methods on a large network) in a grid, and what they are in words."""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st
import torch

from cnnviz.explain import attribution, feature_maps, limits, models
from cnnviz.explain import jobs as explain_jobs
from cnnviz.explain.attribution import METHODS, SLOW, Attribution, Params
from cnnviz.plots import explain as plots
from cnnviz.ui.explain.common import job, layer_label
from cnnviz.ui.formulas import literal
from cnnviz.ui.inputs import bounded


def coarse_layer_note(model: models.Explained, layers: dict[str, tuple], layer: str) -> None:
    """Say so when Grad-CAM's layer is coarser than 4x4 at the model's input size."""
    note = feature_maps.coarse_layer_note(layers, layer, model.image_size)
    if note is not None:
        st.info(literal(note), icon=":material/grid_4x4:")


@st.cache_data(max_entries=1024, show_spinner=False)
def attribution_map(
    key: str, xid: str, method: str, target: int, params: Params, _model: Any, _x: Any
) -> Attribution:
    """One method's map, computed once per model, input, class and settings."""
    return attribution.attribute(_model, _x, method, target, params)


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


def runs_inline(model: models.Explained, method: str) -> bool:
    """LeNet-5 answers in milliseconds; many passes of a large network go through a job."""
    return model.source == "default" or method not in SLOW


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
