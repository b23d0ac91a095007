"""Home: what the lecture covers, how to use the app, and the ILSVRC winners."""

import streamlit as st

from cnnviz import facts
from cnnviz.plots.ilsvrc import ilsvrc_figure
from cnnviz.ui import cache, presets
from cnnviz.ui.navigation import clicked_page, page_for
from cnnviz.ui.teacher import weights_panel

# A click on a winner's bar (the chart below): open its page before drawing this one again.
target = clicked_page(st.session_state.get("home_ilsvrc"))
if target:
    st.switch_page(page_for(target).path)

st.title("CNN architectures, built live")
st.markdown(
    "An interactive companion to the lecture **CNN architectures**. Its three topics of the day: "
    + ", ".join(f"**{t}**" for t in facts.TOPICS)
    + ". Every number on these pages is computed from a real PyTorch model as you change it: "
    "output volumes, parameters, multiply-accumulates (MACs) and receptive fields."
)

with st.expander("How to use this app", expanded=True):
    st.markdown(
        "- **Architectures** (sidebar): LeNet-5, AlexNet, VGG, GoogLeNet and ResNet. Change the "
        "input size or the variant and the layer table, the drawing and the charts follow.\n"
        "- **Predict, then reveal**: each architecture page asks you for a layer's output volume "
        "and parameters before it shows the formula worked with the numbers.\n"
        "- **Tools**: the layer calculator (any kernel, stride, padding), the Inception module's "
        "ops, 3x3 stacking and receptive fields of any layer of any network.\n"
        "- Where a slide and the arithmetic disagree, the page shows the computed number and an "
        "**Erratum** box says why."
    )

st.header("ImageNet (ILSVRC) classification winners")
st.caption("Top-5 error by year; the dotted line is the depth. Click a bar to open its page.")
st.plotly_chart(  # a click reruns this page, which opens the bar's page first thing (above)
    cache.figure(ilsvrc_figure, facts.ILSVRC_WINNERS, facts.HUMAN_TOP5_ERROR),
    on_select="rerun",
    selection_mode="points",
    key="home_ilsvrc",
)

cols = st.columns(5)
for col, name in zip(cols, ("LeNet-5", "AlexNet", "VGG", "GoogLeNet", "ResNet"), strict=True):
    entry = page_for(name)
    col.page_link(entry.path, label=name, icon=entry.icon)

st.markdown(
    f"Human top-5 error: **{facts.HUMAN_TOP5_ERROR}%** (Russakovsky et al., Karpathy). "
    "Depth went from 8 layers (AlexNet, 2012) to 152 (ResNet, 2015) while the error fell "
    "from 16.4% to 3.57%."
)

weights_panel()
presets.share()
