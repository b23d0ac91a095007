"""Receptive fields: what one unit of any layer sees of the input, in theory and in effect."""

import streamlit as st

from cnnviz import registry, weights
from cnnviz.errors import CnnvizError
from cnnviz.plots import receptive_field as plots
from cnnviz.receptive_field import caveat, headline, telling_layer
from cnnviz.receptive_field.limits import FIELD_SIDE
from cnnviz.ui import presets, show_error  # first: a first visit goes through app.py
from cnnviz.ui.cache import figure, receptive_fields_of
from cnnviz.ui.receptive_field import picture_picker, show_effective_field, unit_picker

st.title("Receptive fields")
st.markdown(
    "A unit of a layer sees a patch of the input: its **receptive field**. Along each axis "
    "r_out = r_in + (k - 1) j_in, and the **jump** (effective stride) grows as j_out = j_in s. "
    "Where paths branch and merge (Inception's concatenation, ResNet's F(x) + x) a unit sees "
    "the union of its paths' fields (Araujo et al., Distill 2019)."
)

names = registry.names()
top = st.columns([2, 1, 1])
name = presets.choice(
    top[0].selectbox, "Model", names, default="resnet18", key="receptive_field_model",
    param="model", format_func=lambda n: f"{registry.get(n).title} ({n})",
)  # fmt: skip
c, h0, w0 = registry.get(name).default_input
h = presets.number(top[1], "Input height", FIELD_SIDE, h0, f"receptive_field_h_{name}", param="h")
w = presets.number(top[2], "Input width", FIELD_SIDE, w0, f"receptive_field_w_{name}", param="w")
size = (c, h, w)
try:
    fields = receptive_fields_of(name, size)
except CnnvizError as err:
    show_error(err)
    st.stop()

layers = list(fields)
layer = presets.choice(
    st.selectbox,
    "Layer (dotted path, in the order the forward pass computes it)",
    layers,
    default=telling_layer(fields, size),
    key=f"receptive_field_layer_{name}",
    param="layer",
)
field = fields[layer]

for column, (label, value) in zip(st.columns(4), headline(field).items(), strict=True):
    column.metric(label, value)
if caveat(field):
    st.info(caveat(field), icon=":material/info:")
st.caption(
    "Start: the top/left edge of unit (0, 0)'s field, negative where it reaches into the "
    "zero padding. Unit (i, j) starts i and j jumps further."
)

picture = picture_picker(h, w)
if picture is None:
    st.stop()

left, right = st.columns([2, 3])
with left:
    unit = unit_picker(name, layer, field)
with right:
    st.plotly_chart(
        figure(plots.field_on_image_figure, picture, field, unit),
        width="stretch",
        key="receptive_field_image_fig",
    )
    st.caption(
        "Solid: the pixels of the image the unit sees; dashed: its whole field, padding "
        "included. The cross marks the center, start + (rf - 1)/2."
    )
st.plotly_chart(
    figure(plots.field_growth_figure, list(fields.values()), layer),
    width="stretch",
    key="receptive_field_growth",
)
st.caption(plots.GROWTH_NOTE)
presets.share()

st.subheader("Effective receptive field")
st.markdown(
    "The theoretical field says which pixels *can* change the unit. How much each one does is "
    "the gradient |d unit / d input| (Luo et al. 2016). It is roughly Gaussian: a pixel near the "
    "center reaches the unit through many more paths than one near the border, so most of the "
    "theoretical field contributes little and the **effective** field is much smaller."
)


untrained_col, pretrained_col = st.columns(2)
with untrained_col:
    show_effective_field(name, size, field, picture, False, "Untrained (random weights, seed 0)")
with pretrained_col:
    if weights.weights_available(name):
        show_effective_field(name, size, field, picture, True, "Pretrained (torchvision, ImageNet)")
    else:
        st.info(weights.missing_message(name), icon=":material/cloud_off:")
