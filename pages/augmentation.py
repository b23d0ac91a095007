"""Data augmentation (lecture section 1): compose a torchvision pipeline, see N seeded draws with
what each step drew, copy the code; only the desired invariance (a 6 turned over is a 9)."""

import streamlit as st

from cnnviz.augment.code import pipeline_code
from cnnviz.augment.sources import PHOTO_SIDE, six_and_nine
from cnnviz.errors import CnnvizError
from cnnviz.plots.augment import tile
from cnnviz.ui import augment as ui
from cnnviz.ui import presets, show_error
from cnnviz.ui.experiments import augmentation_experiments

st.title("Data augmentation")
st.markdown(
    "Overfitting comes from too little training data, and **regularization** fights it. "
    "**Data augmentation** increases the training data synthetically: each epoch sees a new "
    "random variant of every image, so the data is *multiplied by N* (the lecture's 6). "
    "Encourage only the invariances you **want**, and tune the magnitude of any **noise "
    "injection**: too little does nothing, too much destroys the signal."
)

st.subheader("1. An image")
image_key, image = ui.choose_image()

st.subheader("2. A pipeline of random transforms")
st.caption(
    "Steps run top to bottom on every draw (`torchvision.transforms.v2`); each setting stays "
    "within the limits shown in its help."
)
steps = ui.pipeline_editor(image.shape[-1] if image is not None else PHOTO_SIDE)

st.subheader("3. The data multiplied by N")
n, seed = ui.grid_settings()
presets.share()

if image is not None and steps is not None:
    try:
        tiles = ui.draws_for(image_key, image, steps, n, seed)
    except CnnvizError as err:
        show_error(err)
    else:
        st.caption(
            f"{n} random draws of the pipeline on one image; under each, what every step drew "
            "(the same seed gives the same grid)."
        )
        ui.draws_grid(tiles)
        with st.expander(
            "The same pipeline in Python (builds these very draws)", icon=":material/code:"
        ):
            st.code(pipeline_code(steps, n, seed), language="python")

st.subheader("Only the desired invariance")
captions = (
    "A handwritten 6 (scikit-learn's digits at 32x32, as LeNet-5 sees them)",
    "The same 6 rotated by 180 degrees",
    "A real 9 from the same data",
)
*digit_cols, text_col = st.columns([1, 1, 1, 2])
for column, digit, caption in zip(digit_cols, six_and_nine(), captions, strict=True):
    column.image(tile(digit), caption=caption, output_format="PNG", width="stretch")
text_col.markdown(
    "Rotating a 6 by 180 degrees gives a **9**: a digit classifier must *not* be invariant to "
    "large rotations (nor to flips: a mirrored 3 is no digit). For a photo of a cat, a "
    "horizontal flip is harmless. Pick the transforms that keep the label true; try it above "
    "with the handwritten digit and a rotation of up to 180 degrees."
)

augmentation_experiments()
