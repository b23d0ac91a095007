"""VGG's 3x3 stacking: n stacked 3x3 convolutions against one (2n+1)x(2n+1) (lecture section 6)."""

import pandas as pd
import streamlit as st

from cnnviz import model_limits
from cnnviz.plots import receptive_field as plots
from cnnviz.stacking import stacking_table
from cnnviz.ui import presets
from cnnviz.ui.navigation import page_for

st.title("Why 3x3? Stacking small filters")
st.markdown(
    "VGG uses only 3x3 convolutions (stride 1, pad 1). Two stacked 3x3 layers see a 5x5 patch "
    "of their input, three see 7x7: the **same receptive field** as one big filter, with "
    "**fewer parameters** and **more non-linearities**."
)

channels = presets.number(
    st,
    "Channels C (in and out of every layer)",
    model_limits.INPUT_DEPTH,
    64,
    "vgg_stacking_channels",
    param="c",
    help="VGG's blocks use 64, 128, 256 and 512.",
)
presets.share()
c = int(channels)


@st.cache_data(show_spinner=False)
def table(channels: int) -> list:
    return stacking_table(channels)


rows = table(c)
three = next(r for r in rows if r.n == 3)
cols = st.columns(3)
cols[0].metric("3 stacked 3x3: weights", f"{three.stacked_params:,}", help="`3 x (3*3*C*C)`")
cols[1].metric("One 7x7: weights", f"{three.single_params:,}", help="`7*7*C*C`")
cols[2].metric(
    "Saved by stacking",
    f"{1 - three.stacked_params / three.single_params:.0%}",
    help="`27*C*C` weights instead of `49*C*C`, whatever C is",
)
st.markdown(
    f"With C = {c}: `3 x (3*3*{c}*{c})` = **27C² = {three.stacked_params:,}** against "
    f"`7*7*{c}*{c}` = **49C² = {three.single_params:,}**, and **3 ReLUs instead of 1**. Both "
    f"see **{three.stacked_rf}x{three.stacked_rf}** pixels. These counts are the **weights "
    f"only**, as the lecture compares them; the biases add {c} per layer ({3 * c:,} for the "
    f"stack, {c:,} for the 7x7), so parameters = weights + biases = "
    f"{three.stacked_params + 3 * c:,} against {three.single_params + c:,}."
)

frame = pd.DataFrame(
    {
        "n x 3x3": [r.n for r in rows],
        "vs one": [f"{r.kernel}x{r.kernel}" for r in rows],
        "RF, stacked": [f"{r.stacked_rf}x{r.stacked_rf}" for r in rows],
        "RF, one": [f"{r.single_rf}x{r.single_rf}" for r in rows],
        "weights, stacked": [f"{r.stacked_params:,} ({9 * r.n}C²)" for r in rows],
        "weights, one": [f"{r.single_params:,} ({r.kernel**2}C²)" for r in rows],
        "ReLUs, stacked": [r.stacked_nonlinearities for r in rows],
        "ReLUs, one": [r.single_nonlinearities for r in rows],
    }
)
st.dataframe(frame, hide_index=True, width="stretch", key="vgg_stacking_table")
st.plotly_chart(plots.stacking_params_figure(rows, c), width="stretch", key="vgg_stacking_chart")

st.markdown(
    "**Why it works.** Each 3x3 layer adds 2 pixels to the receptive field "
    "(`r_out = r_in + (k - 1) j`, with jump j = 1 at stride 1), so n layers see 2n + 1 "
    "pixels. Their weights grow like 9n C² while one big filter's grow like (2n + 1)² C²; "
    "and a ReLU after every layer "
    "makes the stack a more expressive function than one linear filter followed by one ReLU."
)
st.caption(
    "Receptive fields come from running the stacks through the receptive-field engine; "
    "parameters from the layer analysis of the same modules."
)
st.page_link(
    page_for("Receptive fields").path,
    label="Explore the receptive field of any layer of VGG, GoogLeNet or ResNet",
    icon=":material/center_focus_strong:",
)
