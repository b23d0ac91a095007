"""Explain: the filters, feature maps and attributions of a trained network, and which
explanations to trust (the sanity check of Adebayo et al. 2018)."""

import streamlit as st

from cnnviz.errors import CnnvizError
from cnnviz.explain.attribution import METHODS
from cnnviz.explain.limits import TOP_CHANNELS
from cnnviz.plots import explain as plots
from cnnviz.ui import explain as ui
from cnnviz.ui import presets, show_error  # first: a first visit goes through app.py
from cnnviz.ui.inputs import bounded

st.title("Explain")
st.markdown(
    "Look inside a **trained** network: what its filters detect, how strongly each channel "
    "responds to an image, and which pixels drove its prediction. Then check which of those "
    "explanations deserve trust."
)
model = ui.model_picker()
if model is None:
    st.stop()
picked = ui.image_picker(model)
if picked is None:
    st.stop()
image, caption = picked
try:
    x = model.preprocess(image)
    xid = ui.fingerprint(x)
    top = ui.prediction(model.key, xid, model, x)
    layers = ui.layers_of(model.key, xid, model, x)
except CnnvizError as err:
    show_error(err)
    st.stop()

left, right = st.columns([1, 2])
view = ui.resized(image, model)  # what the network sees: resized (and center-cropped)
left.image(view, caption=caption, width=160 if model.source == "default" else "stretch")
with right:
    target = ui.target_picker(top, len(model.classes), f"{model.key}_{xid}")
    st.plotly_chart(plots.top_classes_figure(top, target), width="stretch", key="explain_top5")

attr_tab, filter_tab, maps_tab, sanity_tab, fv_tab = st.tabs(
    ["Attributions", "Filters", "Feature maps", "Sanity check", "What a channel wants to see"]
)
with attr_tab:
    methods = presets.choices(
        st.multiselect, "Methods", list(METHODS), param="methods", key="explain_methods",
        default=["saliency", "integrated_gradients", "gradcam"], format_func=METHODS.get,
    )  # fmt: skip
    presets.share()
    with st.expander("Method settings"):
        params = ui.method_settings(model, layers)
    if "gradcam" in methods:
        ui.coarse_layer_note(model, layers, params.layer)
    try:
        maps = ui.attributions(model, x, xid, target, methods, params)
    except CnnvizError as err:
        show_error(err)
        maps = {}
    if maps:
        ui.show_maps(model, view, x, maps, layers)
    st.markdown(ui.METHOD_NOTES)

with filter_tab:
    tiles = ui.first_filters(model.key, model)
    st.plotly_chart(
        plots.tile_grid_figure(tiles.tiles, ui.filter_title(tiles)), width="stretch",
        key="explain_filters",
    )  # fmt: skip
    ui.filter_view(model, xid, x)
    st.caption(
        "Each tile is scaled to its own range (a deeper filter: over all its channels): the "
        "pattern shows, not its strength. The map is where the filter responds on the image "
        "(its channel of the layer's output)."
    )

with maps_tab:
    cols = st.columns([3, 1])
    names = list(layers)
    layer = cols[0].selectbox(
        "Layer", names, index=names.index(params.layer) if params.layer in names else 0,
        key=f"explain_maps_layer_{model.key}",
        format_func=lambda n: ui.layer_label(n, layers),
    )  # fmt: skip
    k = bounded(cols[1], "Top channels", TOP_CHANNELS, 16, "explain_top_k")
    fm = ui.top_maps(model.key, xid, layer, k, model, x)
    st.plotly_chart(
        plots.feature_grid_figure(fm.maps, fm.channels, f"{layer}: the {len(fm.channels)} channels "
                           "with the largest mean activation"),
        width="stretch", key="explain_feature_grid",
    )  # fmt: skip
    st.caption(ui.means_caption(fm))

with sanity_tab:
    st.markdown(ui.SANITY_TEXT)
    chosen = st.multiselect(
        "Methods to check", list(METHODS), default=["saliency", "guided_backprop", "gradcam"],
        format_func=METHODS.get, key="explain_sanity_methods",
    )  # fmt: skip
    result = ui.sanity_check(model, x, xid, target, chosen, params) if chosen else None
    st.caption(f"Random weights drawn with seed {params.seed} (Method settings, Attributions tab).")
    if result is not None:
        named = {METHODS[m]: v for m, v in result.pictures.items()}
        rhos = {METHODS[m]: v for m, v in result.correlations.items()}
        st.plotly_chart(plots.sanity_grid_figure(result.steps, named, rhos), width="stretch",
                        key="explain_sanity_grid")  # fmt: skip
        st.caption(ui.SANITY_GRID_NOTE)
        st.markdown(ui.sanity_text(result))

with fv_tab:
    ui.feature_visualization(model)
