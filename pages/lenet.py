"""LeNet-5: the 1998 digit recognizer, as the paper built it or as it is usually rebuilt."""

import streamlit as st

from cnnviz import facts
from cnnviz.notation import volume
from cnnviz.ui import architecture as ui
from cnnviz.ui import presets

st.title("LeNet-5 (LeCun et al. 1998)")
st.markdown(
    "Successful for digit recognition: 5x5 convolutions at stride 1 and 2x2 subsampling at "
    "stride 2 on a 32x32x1 input."
)

left, right = st.columns([2, 3])
VARIANTS = {"modern": "Modern (tanh, pooling, linear output)", "paper": "The 1998 paper"}
variant = presets.choice(
    left.radio, "Variant", list(VARIANTS), default="modern", key="lenet_variant",
    param="variant", format_func=VARIANTS.get, horizontal=True,
)  # fmt: skip
paper = variant == "paper"
c3_table = presets.toggle(
    right.toggle,
    "C3 partial connection table (Table I of the paper)",
    default=paper,
    key=f"lenet_c3_{variant}",
    param="c3",
    help="Each C3 map sees only 3, 4 or 6 of the 6 S2 maps: 60 kernels instead of 96.",
)
c, h, w = ui.input_size_picker((1, 32, 32), key="lenet", channels=True)
options = {"c3_table": c3_table, "trainable_subsampling": paper, "rbf_output": paper}
a = ui.analysis_or_error("lenet5", (c, h, w), **options)
if a is None:
    st.stop()

ui.show_totals(a)
c3 = a.layer("c3")
if paper:
    paper_input = (c, h, w) == (1, 32, 32)
    what = f"**{a.trainable_params:,} trainable parameters**"
    if c3_table and paper_input:
        what = f"The paper's network: {what} (the paper's '60,000 free parameters')"
    elif paper_input:  # say what the switch changed, not the paper's claim
        what = (
            f"With C3 fully connected: {what}, "
            f"{a.trainable_params - facts.LENET5_PAPER_TRAINABLE:,} more than the paper's "
            f"{facts.LENET5_PAPER_TRAINABLE:,}, because C3 has {c3.params:,} instead of "
            f"{facts.LENET5_C3_TABLE_PARAMS:,}"
        )
    else:
        what = (
            f"On {volume((c, h, w))}: {what} (the paper's {facts.LENET5_PAPER_TRAINABLE:,} are "
            "for 32x32x1 with the C3 table: C5 and F6 follow the input size)"
        )
    st.info(
        f"{what}; the RBF output's {a.total_params - a.trainable_params:,} connections are "
        "fixed, not trained.",
        icon=":material/history_edu:",
    )
st.markdown(
    f"**C3** has **{c3.params:,}** parameters "
    + (
        f"with the connection table (fully connected it would have "
        f"{facts.LENET5_C3_FULL_PARAMS:,})."
        if c3_table
        else f"fully connected (the paper's table gives {facts.LENET5_C3_TABLE_PARAMS:,})."
    )
)
ui.show_architecture(a, key="lenet")
presets.share()
ui.show_quiz(a, key="lenet")
ui.show_facts("LeNet-5")
