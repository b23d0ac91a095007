"""GoogLeNet: 22 layers, 9 Inception modules, and the 1x1 bottleneck that makes it cheap."""

import streamlit as st

from cnnviz import facts, model_limits
from cnnviz.analysis import analyze
from cnnviz.layer_calculator import compared, direction
from cnnviz.plots.modules import comparison_figure, inception_module_figure
from cnnviz.ui import architecture as ui
from cnnviz.ui import cache, presets
from cnnviz.ui.navigation import page_for

st.title("GoogLeNet / Inception v1 (Szegedy et al. 2014)")
st.markdown(
    "Deeper networks with computational efficiency: the **Inception module**, a network within "
    "a network, applies 1x1, 3x3 and 5x5 convolutions and a 3x3 max pool side by side and "
    "concatenates their outputs depth-wise."
)

st.header("The Inception module")
cols = st.columns([1, 1, 1, 1])
number = presets.number
c = number(cols[0], "Input depth", model_limits.INPUT_DEPTH, 256, "googlenet_inc_c", param="c")
hw = number(
    cols[1], "Input height = width", model_limits.INPUT_SIDE, 28, "googlenet_inc_hw", param="hw"
)
c3 = number(cols[2], "3x3 filters", model_limits.WIDTH, 192, "googlenet_inc_c3", param="c3")
reduce = number(
    cols[3],
    "1x1 bottleneck filters",
    model_limits.WIDTH,
    64,
    "googlenet_inc_reduce",
    param="reduce",
)
size = (int(c), int(hw), int(hw))
naive = ui.analysis_or_error("inception_naive", size, c3x3=int(c3))
bottleneck = ui.analysis_or_error(
    "inception_bottleneck",
    size,
    c3x3=int(c3),
    c3x3_reduce=int(reduce),
    c5x5_reduce=int(reduce),
    pool_proj=int(reduce),
)
if naive is None or bottleneck is None:
    st.stop()
left, right = st.columns(2)
with left:
    st.subheader("Naive")
    st.plotly_chart(cache.figure(inception_module_figure, naive), key="googlenet_inc_naive")
    st.metric("MACs", f"{naive.total_macs:,}")
    st.markdown(
        f"Output depth **{naive.output_shape[0]}**: the pool branch keeps "
        f"{'the one input channel' if c == 1 else f'all {c} input channels'}, so depth can "
        "only grow from module to module."
    )
with right:
    st.subheader("With 1x1 bottlenecks")
    st.plotly_chart(
        cache.figure(inception_module_figure, bottleneck), key="googlenet_inc_bottleneck"
    )
    st.metric(
        "MACs",
        f"{bottleneck.total_macs:,}",
        delta=compared(bottleneck.total_macs, naive.total_macs, against="naive"),
        delta_color="inverse",
        delta_arrow=direction(bottleneck.total_macs, naive.total_macs),
    )
    st.markdown(f"Output depth **{bottleneck.output_shape[0]}**.")
st.page_link(
    page_for("Inception ops").path,
    label="Every term of both modules, and where the slide's 358M comes from",
    icon=":material/call_split:",
)

st.header("The whole network")
size = ui.input_size_picker((3, 224, 224), key="googlenet")
a = ui.analysis_or_error("googlenet", size)
if a is None:
    st.stop()
modules = [b for b in a.blocks if b.type == "Inception"]
st.markdown(
    f"torchvision's GoogLeNet: **{a.depth_in_layers()} layers with parameters**, "
    f"**{len(modules)} Inception modules**, no fully connected layer but the classifier."
)
ui.show_totals(a)
alexnet = analyze("alexnet_lecture")
st.plotly_chart(
    cache.figure(comparison_figure, {"AlexNet (lecture)": alexnet, "GoogLeNet": a}),
    key="googlenet_vs_alexnet",
)
st.markdown(
    f"The paper's claim: **{facts.GOOGLENET_PAPER_CLAIM}**. torchvision's GoogLeNet, shown "
    f"here, has {a.total_params:,} parameters: about "
    f"{alexnet.total_params / a.total_params:.1f}x fewer than the lecture's AlexNet "
    f"({alexnet.total_params:,}), "
    f"{facts.ALEXNET_TORCHVISION_PARAMS / a.total_params:.1f}x fewer than torchvision's "
    f"({facts.ALEXNET_TORCHVISION_PARAMS:,})."
)
ui.show_architecture(a, key="googlenet")
presets.share()
ui.show_quiz(a, key="googlenet")
ui.show_facts("GoogLeNet")
