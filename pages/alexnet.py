"""AlexNet: the 2012 winner, as the slides draw it, as the paper trained it, and torchvision's."""

import streamlit as st

from cnnviz import facts
from cnnviz.architectures.zoo import adaptive_pool_note
from cnnviz.registry import get
from cnnviz.ui import architecture as ui
from cnnviz.ui import presets

st.title("AlexNet (Krizhevsky et al. 2012)")
VARIANTS = ("alexnet_lecture", "alexnet_paper", "alexnet")
name = presets.choice(
    st.radio, "Variant", VARIANTS, default=VARIANTS[0], key="alexnet_variant", param="variant",
    name=lambda n: n.removeprefix("alexnet_") if n != "alexnet" else "torchvision",
    format_func=lambda n: get(n).title, horizontal=True,
)  # fmt: skip
st.caption(get(name).description)
c, h, w = ui.input_size_picker(get(name).default_input, key=f"alexnet_{name}")
options = {}
if name != "alexnet":
    options["lrn"] = presets.toggle(
        st.toggle, "Local response normalization (NORM1, NORM2)", default=True,
        key="alexnet_lrn", param="lrn",
    )  # fmt: skip
a = ui.analysis_or_error(name, (c, h, w), **options)
if a is None:
    st.stop()

ui.show_totals(a)
if name == "alexnet_paper":
    st.info(
        f"Two GPUs: conv2, conv4 and conv5 see only their own GPU's half of the channels, "
        f"{facts.ALEXNET_LECTURE_PARAMS - a.total_params:,} fewer parameters than one stream "
        f"({facts.ALEXNET_LECTURE_PARAMS:,}).",
        icon=":material/memory:",
    )
if name == "alexnet":
    st.info(adaptive_pool_note(a), icon=":material/aspect_ratio:")
if (h - 11) % 4 and name != "alexnet":
    st.warning(
        f"({h} - 11)/4 + 1 is not an integer: PyTorch floors it, and the last "
        f"{(h - 11) % 4} rows and columns of the input are never seen by CONV1. "
        "This is why the slides use 227, not the paper's 224.",
        icon=":material/straighten:",
    )
ui.show_architecture(a, key="alexnet")
presets.share()
ui.show_quiz(a, key="alexnet")
ui.show_facts("AlexNet")
