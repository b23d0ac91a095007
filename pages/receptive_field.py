"""Receptive fields: what one unit of any layer sees of the input, in theory and in effect."""

import streamlit as st

from cnnviz import images, registry, weights
from cnnviz.errors import CnnvizError
from cnnviz.plots import receptive_field as plots
from cnnviz.receptive_field import caveat, headline, telling_layer
from cnnviz.receptive_field.effective import central_share, effective_receptive_field
from cnnviz.ui import show_error  # first: a first visit to this URL goes through app.py
from cnnviz.ui.cache import figure, receptive_fields_of

st.title("Receptive fields")
st.markdown(
    "A unit of a layer sees a patch of the input: its **receptive field**. Along each axis "
    "r_out = r_in + (k - 1) j_in, and the **jump** (effective stride) grows as j_out = j_in s. "
    "Where paths branch and merge (Inception's concatenation, ResNet's F(x) + x) a unit sees "
    "the union of its paths' fields (Araujo et al., Distill 2019)."
)

names = registry.names()
top = st.columns([2, 1, 1])
name = top[0].selectbox(
    "Model",
    names,
    index=names.index("resnet18"),
    key="receptive_field_model",
    format_func=lambda n: f"{registry.get(n).title} ({n})",
)
c, h0, w0 = registry.get(name).default_input
h = int(top[1].number_input("Input height", 8, 512, h0, key=f"receptive_field_h_{name}"))
w = int(top[2].number_input("Input width", 8, 512, w0, key=f"receptive_field_w_{name}"))
size = (c, h, w)
try:
    fields = receptive_fields_of(name, size)
except CnnvizError as err:
    show_error(err)
    st.stop()

layers = list(fields)
layer = st.selectbox(
    "Layer (dotted path, in the order the forward pass computes it)",
    layers,
    index=layers.index(telling_layer(fields, size)),
    key=f"receptive_field_layer_{name}",
)
field = fields[layer]
rows, cols = field.grid

# A click on the grid moves the sliders; only a new click does, so the sliders stay usable.
grid_key = f"receptive_field_grid_{name}_{layer}_{rows}x{cols}"
row_key, col_key = f"{grid_key}_i", f"{grid_key}_j"
st.session_state.setdefault(row_key, rows // 2)
st.session_state.setdefault(col_key, cols // 2)
event = st.session_state.get(grid_key)
points = event["selection"]["points"] if event else []
if points and st.session_state.get("receptive_field_click") != (
    grid_key,
    points[0]["x"],
    points[0]["y"],
):
    st.session_state["receptive_field_click"] = (grid_key, points[0]["x"], points[0]["y"])
    st.session_state[row_key], st.session_state[col_key] = int(points[0]["y"]), int(points[0]["x"])

for column, (label, value) in zip(st.columns(4), headline(field).items(), strict=True):
    column.metric(label, value)
if caveat(field):
    st.info(caveat(field), icon=":material/info:")
st.caption(
    "Start: the top/left edge of unit (0, 0)'s field, negative where it reaches into the "
    "zero padding. Unit (i, j) starts i and j jumps further."
)

source = st.selectbox("Image", [*images.PHOTOS, "Upload your own"], key="receptive_field_image")
upload = None
if source not in images.PHOTOS:
    kinds = ["png", "jpg", "jpeg", "bmp", "gif", "webp"]
    upload = st.file_uploader(
        "An image file (read in memory only)", type=kinds, key="receptive_field_upload"
    )
fallback = source if source in images.PHOTOS else "Astronaut"  # until a file comes
try:
    picture = images.decode_upload(upload.getvalue()) if upload else images.photo(fallback)
except CnnvizError as err:
    show_error(err)
    st.stop()
picture = images.fit(picture, h, w)

left, right = st.columns([2, 3])
with left:
    i = st.slider("Unit row i", 0, rows - 1, key=row_key) if rows > 1 else 0
    j = st.slider("Unit column j", 0, cols - 1, key=col_key) if cols > 1 else 0
    unit = (i, j)
    st.plotly_chart(
        figure(plots.unit_grid, field, unit),
        on_select="rerun",
        selection_mode="points",
        key=grid_key,
        width="stretch",
        config={"displayModeBar": False},
    )
with right:
    st.plotly_chart(
        figure(plots.field_on_image, picture, field, unit),
        width="stretch",
        key="receptive_field_image_fig",
    )
    st.caption(
        "Solid: the pixels of the image the unit sees; dashed: its whole field, padding "
        "included. The cross marks the center, start + (rf - 1)/2."
    )
st.plotly_chart(
    figure(plots.field_growth, list(fields.values()), layer),
    width="stretch",
    key="receptive_field_growth",
)

st.subheader("Effective receptive field")
st.markdown(
    "The theoretical field says which pixels *can* change the unit. How much each one does is "
    "the gradient |d unit / d input| (Luo et al. 2016). It is roughly Gaussian: a pixel near the "
    "center reaches the unit through many more paths than one near the border, so most of the "
    "theoretical field contributes little and the **effective** field is much smaller."
)


@st.cache_resource(max_entries=3, show_spinner=False)
def network(name: str, size: tuple[int, int, int], pretrained: bool):
    # Shared across sessions: effective_receptive_field works on its own copy.
    return weights.load_pretrained(name) if pretrained else weights.untrained(name, size)


@st.cache_data(max_entries=32, show_spinner="Back-propagating one unit...")
def erf(name, size, layer, unit, picture, pretrained):
    model = network(name, size, pretrained)
    return effective_receptive_field(model, layer, unit, images.to_input(picture, size[0]))


def show_erf(pretrained: bool, title: str) -> None:
    # The centre unit's, so a unit step costs no backward pass (one per layer, for everyone).
    centre = (rows // 2, cols // 2)
    grad = erf(name, size, layer, centre, picture, pretrained)
    chart = figure(plots.effective_field, picture, grad, field, centre, title)
    st.plotly_chart(chart, width="stretch", key=f"receptive_field_erf_{pretrained}")
    st.caption(
        f"Unit {centre}, the centre of the map; away from the borders the others' look alike."
    )
    share = central_share(grad, field.region(*centre))
    st.metric(
        "Gradient in the central half of the field",
        f"{share:.0%}",
        help="Share of |d unit / d input| in the box of half the theoretical side.",
    )


untrained_col, pretrained_col = st.columns(2)
with untrained_col:
    show_erf(False, "Untrained (random weights, seed 0)")
with pretrained_col:
    if weights.weights_available(name):
        show_erf(True, "Pretrained (torchvision, ImageNet)")
    else:
        st.info(weights.missing_message(name), icon=":material/cloud_off:")
