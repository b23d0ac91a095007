"""The receptive-field page's parts: the unit picker (sliders and a clickable grid), the image
source and the effective field, so the page stays a short top-to-bottom script."""

from __future__ import annotations

import numpy as np
import streamlit as st

from cnnviz import images
from cnnviz.errors import CnnvizError
from cnnviz.plots import receptive_field as plots
from cnnviz.presets import slug
from cnnviz.receptive_field import ReceptiveField
from cnnviz.receptive_field.effective import central_share, effective_field_of
from cnnviz.ui import presets
from cnnviz.ui.cache import figure
from cnnviz.ui.errors import show_error


def unit_keys(name: str, layer: str, field: ReceptiveField) -> tuple[str, str, str]:
    """Widget keys of the unit grid and its two sliders; a click on the grid moves the sliders
    (only a new click does, so the sliders stay usable)."""
    rows, cols = field.grid
    grid_key = f"receptive_field_grid_{name}_{layer}_{rows}x{cols}"
    row_key, col_key = f"{grid_key}_i", f"{grid_key}_j"
    if row_key not in st.session_state:  # a new grid starts at the link's unit or its center
        i, j = presets.unit("unit", (rows // 2, cols // 2), field.grid)
        st.session_state.update({row_key: i, col_key: j})
    event = st.session_state.get(grid_key)
    points = event["selection"]["points"] if event else []
    if points:
        click = (grid_key, points[0]["x"], points[0]["y"])
        if st.session_state.get("receptive_field_click") != click:
            st.session_state["receptive_field_click"] = click
            st.session_state[row_key] = int(points[0]["y"])
            st.session_state[col_key] = int(points[0]["x"])
    return grid_key, row_key, col_key


def unit_picker(name: str, layer: str, field: ReceptiveField) -> tuple[int, int]:
    """Sliders for unit (i, j) and the clickable grid of the layer's units."""
    grid_key, row_key, col_key = unit_keys(name, layer, field)
    rows, cols = field.grid
    i = st.slider("Unit row i", 0, rows - 1, key=row_key) if rows > 1 else 0
    j = st.slider("Unit column j", 0, cols - 1, key=col_key) if cols > 1 else 0
    st.plotly_chart(
        figure(plots.unit_grid_figure, field, (i, j)),
        on_select="rerun",
        selection_mode="points",
        key=grid_key,
        width="stretch",
        config={"displayModeBar": False},
    )
    presets.keep("unit", (i, j), (rows // 2, cols // 2))
    return i, j


def picture_picker(height: int, width: int) -> np.ndarray | None:
    """A built-in photo or an upload (read in memory only), fitted to height x width."""
    source = presets.choice(
        st.selectbox, "Image", [*images.PHOTOS, "Upload your own"], default="Astronaut",
        key="receptive_field_image", param="image", name=slug,
    )  # fmt: skip
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
        return None
    return images.fit(picture, height, width)


@st.cache_data(max_entries=32, show_spinner="Back-propagating one unit...")
def _gradient(name, size, layer, unit, picture, pretrained):
    # The network is the process's one shared model (cnnviz.shared_model): borrowed, not copied.
    image = images.to_input(picture, size[0])
    return effective_field_of(name, layer, unit, image, pretrained=pretrained)


def show_effective_field(
    name: str,
    size: tuple[int, int, int],
    field: ReceptiveField,
    picture: np.ndarray,
    pretrained: bool,
    title: str,
) -> None:
    """The effective field of the layer's center unit: one backward pass per layer, shared by
    every session, so moving the unit sliders costs none."""
    rows, cols = field.grid
    center = (rows // 2, cols // 2)
    try:
        grad = _gradient(name, size, field.name, center, picture, pretrained)
    except CnnvizError as err:
        show_error(err)
        return
    chart = figure(plots.effective_field_figure, picture, grad, field, center, title)
    st.plotly_chart(chart, width="stretch", key=f"receptive_field_erf_{pretrained}")
    st.caption(
        f"Unit {center}, the center of the map; away from the borders the others' look alike."
    )
    st.metric(
        "Gradient in the central half of the field",
        f"{central_share(grad, field.region(*center)):.0%}",
        help="Share of |d unit / d input| in the box of half the theoretical side.",
    )
