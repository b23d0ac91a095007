"""ResNet: residual learning, H(x) = F(x) + x, from 18 to 152 layers."""

import streamlit as st

from cnnviz import model_limits
from cnnviz.notation import hwc
from cnnviz.plots.modules import comparison_figure, residual_block_figure
from cnnviz.ui import architecture as ui
from cnnviz.ui import cache, presets
from cnnviz.ui.experiments import degradation_experiment

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
    c = presets.number(
        cols[0],
        "Input depth",
        model_limits.BLOCK_DEPTH,
        256,
        "resnet_block_c",
        param="block_c",
        step=4,
    )
    hw = presets.number(
        cols[1],
        "Input height = width",
        model_limits.INPUT_SIDE,
        56,
        "resnet_block_hw",
        param="block_hw",
    )
    c, hw = int(c), int(hw)
    # He et al., Fig. 5: blocks of about the same cost, a basic block on a quarter of the depth
    # (ResNet-34's 64-d) against a bottleneck on the full depth (ResNet-50's 256-d).
    basic = ui.analysis_or_error("resnet_basic_block", (c // 4, hw, hw), planes=c // 4)
    bottleneck = ui.analysis_or_error("resnet_bottleneck_block", (c, hw, hw), planes=c // 4)
    if basic is not None and bottleneck is not None:
        st.plotly_chart(
            cache.figure(
                comparison_figure,
                {
                    f"basic on {c // 4}-d (3x3, 3x3)": basic,
                    f"bottleneck on {c}-d (1x1, 3x3, 1x1)": bottleneck,
                },
            ),
            key="resnet_blocks",
        )
        st.markdown(
            f"He et al. (Fig. 5) compare blocks of about the same cost. On {hw}x{hw}: the "
            f"basic block (3x3 {c // 4}, 3x3 {c // 4} on {c // 4}-d, as in ResNet-18/34) costs "
            f"**{basic.total_macs:,}** MACs and {basic.total_params:,} parameters; the "
            f"bottleneck (1x1 {c // 4}, 3x3 {c // 4}, 1x1 {bottleneck.output_shape[0]} on {c}-d, "
            "as in ResNet-50+) "
            f"costs **{bottleneck.total_macs:,}** MACs and {bottleneck.total_params:,} "
            f"parameters: **{c / (c // 4):g}x the input depth** for "
            f"{bottleneck.total_macs / basic.total_macs:.2f}x the MACs."
        )
        with st.expander(f"What if: a basic block on the full {c}-d input (no ResNet does this)"):
            wide = ui.analysis_or_error("resnet_basic_block", (c, hw, hw), planes=c)
            if wide is not None:
                st.markdown(
                    f"Two 3x3 convolutions with {c} filters on {hwc(hw, hw, c)} cost "
                    f"**{wide.total_macs:,}** MACs and {wide.total_params:,} parameters, "
                    f"{wide.total_macs / bottleneck.total_macs:.1f}x the bottleneck's: this is "
                    "what the 1x1 reduction saves, but ResNet never runs a basic block this "
                    "wide; it uses bottlenecks from ResNet-50 on."
                )

st.header("The whole network")
# A radio on its own row: every depth stays visible at 1024 px and none can be deselected.
depth = presets.choice(
    st.radio, "Depth", [18, 34, 50, 101, 152], default=50, key="resnet_depth", param="depth",
    horizontal=True,
)  # fmt: skip
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
presets.share()
ui.show_quiz(a, key="resnet")
ui.show_facts("ResNet")

degradation_experiment()
