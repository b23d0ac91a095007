"""VGG: only 3x3 convolutions and 2x2 pools, 11 to 19 layers deep."""

import streamlit as st

from cnnviz import facts
from cnnviz.architectures.zoo import adaptive_pool_note
from cnnviz.ui import architecture as ui
from cnnviz.ui import presets
from cnnviz.ui.navigation import page_for

st.title("VGG (Simonyan & Zisserman 2014)")
st.markdown(
    "Small filters, deeper networks: only 3x3 CONV (stride 1, pad 1) and 2x2 MAX POOL "
    "(stride 2). ILSVRC'14: 7.3% top-5 error, down from ZFNet's 11.7%."
)
# A radio, not a segmented control: a segmented control can be deselected and show no depth.
depth = presets.choice(
    st.radio, "Depth", [11, 13, 16, 19], default=16, key="vgg_depth", param="depth",
    horizontal=True,
)  # fmt: skip
cols = st.columns(2)  # two toggles a row: their labels fit at a projector's 1024 px
bn = presets.toggle(
    cols[0].toggle, "Batch normalization (_bn)", default=False, key="vgg_bn", param="bn"
)
adaptive = presets.toggle(
    cols[1].toggle,
    "torchvision's VGG (adaptive pool)",
    default=False,
    key="vgg_adaptive",
    param="adaptive",
    help="torchvision adds an adaptive average pool to 7x7 before FC6: the FC sizes then stay "
    "fixed whatever the input. The slides' VGG has no such pool.",
)
c, h, w = ui.input_size_picker((3, 224, 224), key="vgg")
if adaptive:
    a = ui.analysis_or_error(f"vgg{depth}{'_bn' if bn else ''}", (c, h, w))
else:
    a = ui.analysis_or_error(f"vgg{depth}_lecture", (c, h, w), batch_norm=bn)
if a is None:
    st.stop()

ui.show_totals(a)
fc6 = next(layer for layer in a.leaves if layer.kind == "fc")
pool5 = [layer for layer in a.leaves if layer.kind == "pool"][-1]
if adaptive:
    st.info(adaptive_pool_note(a), icon=":material/aspect_ratio:")
else:
    st.markdown(
        f"FC6 takes pool5's whole **{pool5.volume()}** volume = "
        f"{fc6.hyper['in_features']:,} values: **{fc6.params:,}** parameters at "
        f"{h}x{w}. Change the input size and watch it follow."
    )
fc = sum(layer.params for layer in a.leaves if layer.kind == "fc")
conv_macs = sum(layer.macs for layer in a.leaves if layer.kind == "conv")
st.markdown(
    f"VGG-{depth} has **{a.depth_in_layers()} layers with weights**. Its three fully connected "
    f"layers hold **{fc:,}** of the {a.total_params:,} parameters "
    f"(**{100 * fc / a.total_params:.0f}%**), while the convolutions do "
    f"**{100 * conv_macs / a.total_macs:.1f}%** of the {a.total_macs:,} MACs."
)
mb = a.activation_values * 4 / 1e6
st.markdown(
    f"Forward activation memory: **{a.activation_values:,} values = {mb:.0f} MB** per image "
    "in float32, counted like the slide (input plus every conv, pool and FC output)."
)
ui.show_architecture(a, key="vgg")
presets.share()
ui.show_quiz(a, key="vgg")
ui.show_facts("VGG")
st.page_link(
    page_for("3x3 stacking").path,
    label="Why 3x3? Stack them and compare with one big filter",
    icon=":material/layers:",
)
if (depth, bn) != (16, False) or (h, w) != (224, 224):
    st.caption(
        f"The erratum's numbers are VGG-16's at 224x224 ({facts.VGG16_ACTIVATION_VALUES:,} "
        "values); this page shows the network you picked."
    )
