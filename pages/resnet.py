"""ResNet: residual learning, H(x) = F(x) + x, from 18 to 152 layers."""

import streamlit as st

from cnnviz.plots.architecture import comparison_figure, residual_block_figure
from cnnviz.ui import architecture as ui
from cnnviz.ui import cache

st.title("ResNet (He et al. 2015)")
st.markdown(
    "What happens when we go deeper? A 56-layer *plain* network has higher **training** error "
    "than a 20-layer one: an optimization problem, not overfitting. A deeper model could copy "
    "the shallow one and set its extra layers to the identity, so ResNet makes the identity "
    "easy: each block learns the residual F(x) = H(x) - x."
)
left, right = st.columns([2, 3])
with left:
    st.plotly_chart(cache.figure(residual_block_figure), key="resnet_block_fig")
with right:
    st.subheader("Basic vs bottleneck block")
    cols = st.columns(2)
    c = cols[0].number_input("Input depth", 4, 4096, 256, step=4, key="resnet_block_c")
    hw = cols[1].number_input("Input height = width", 1, 512, 56, key="resnet_block_hw")
    size = (int(c), int(hw), int(hw))
    basic = ui.analysis_or_error("resnet_basic_block", size, planes=int(c))
    bottleneck = ui.analysis_or_error("resnet_bottleneck_block", size, planes=max(1, int(c) // 4))
    if basic is not None and bottleneck is not None:
        st.plotly_chart(
            cache.figure(
                comparison_figure,
                {"basic (3x3, 3x3)": basic, "bottleneck (1x1, 3x3, 1x1)": bottleneck},
            ),
            key="resnet_blocks",
        )
        st.markdown(
            f"On {hw}x{hw}x{c}: the basic block costs **{basic.total_macs:,}** MACs and "
            f"{basic.total_params:,} parameters; the bottleneck (1x1 down to {c // 4}, 3x3, "
            f"1x1 back to {c}) costs **{bottleneck.total_macs:,}** MACs and "
            f"{bottleneck.total_params:,} parameters: "
            f"**{basic.total_macs / bottleneck.total_macs:.1f}x** fewer MACs."
        )

st.header("The whole network")
cols = st.columns([2, 3])
depth = (
    cols[0].segmented_control("Depth", [18, 34, 50, 101, 152], default=50, key="resnet_depth") or 50
)
size = ui.input_size_picker((3, 224, 224), key="resnet")
a = ui.analysis_or_error(f"resnet{depth}", size)
if a is None:
    st.stop()
blocks = [b for b in a.blocks if b.type in ("BasicBlock", "Bottleneck")]
st.markdown(
    f"ResNet-{depth}: **{a.depth_in_layers()} layers with weights**, {len(blocks)} "
    f"{blocks[0].type} blocks in 4 stages; each stage doubles the filters and halves the size "
    "(stride 2); a conv stem, global average pooling and one FC layer to the classes."
)
ui.show_totals(a)
ui.show_architecture(a, key="resnet")
ui.show_quiz(a, key="resnet")
ui.show_facts("ResNet")
