"""Layer calculator: output volume, parameters and MACs of one layer or of a whole model."""

import streamlit as st

from cnnviz import layer_limits, model_limits, registry
from cnnviz.analysis import MAC_CONVENTION, analyze
from cnnviz.errors import CnnvizError
from cnnviz.layer_calculator import compared, depth_reduction, direction, layer_arithmetic
from cnnviz.layer_fit import LAYER_TYPES, LayerSpec
from cnnviz.layer_table import explain_layer
from cnnviz.notation import hwc
from cnnviz.plots.layer_calculator import depth_reduction_figure, kernel_positions_figure
from cnnviz.ui import cache, presets, show_error  # first: a first visit goes through app.py
from cnnviz.ui.formulas import literal, show_worked
from cnnviz.ui.layer_calculator import kernel_position, show_model_table

st.title("Layer calculator")
st.caption(MAC_CONVENTION)
one, model_tab, bottleneck_tab = presets.tabs(
    ["One layer", "A whole model", "1x1 convolutions"], ["layer", "model", "1x1"],
    key="layer_calculator_tabs", param="tab",
)  # fmt: skip
number = presets.number  # its `param` is the widget key's suffix: ?kernel=3&stride=1&padding=1

with one:
    st.markdown("Defaults: AlexNet CONV1, 96 11x11 filters at stride 4, pad 0, on 227x227x3.")
    kind = presets.choice(
        st.radio, "Layer", LAYER_TYPES, default=LAYER_TYPES[0], key="layer_calculator_type",
        param="type", name=lambda t: t.split()[0], horizontal=True,
    )  # fmt: skip
    pool = kind != "convolution"  # a pool has no filters and no groups
    ceil = presets.toggle(
        st.toggle,
        "Ceil mode (round the output size up, as GoogLeNet's pools do)",
        default=False,
        param="ceil",
        key="layer_calculator_ceil",
        disabled=not pool,
        help="PyTorch's ceil_mode=True, pools only: a last window that hangs over the edge "
        "still counts if it starts inside the input or its left padding.",
    )
    c1, c2, c3, c4, c5 = st.columns(5)
    values = {
        field: number(col, label, limit, default, f"layer_calculator_{p}", param=p, **kw)
        for field, col, label, limit, default, p, kw in (
            ("height", c1, "Input height H", layer_limits.LAYER_SIDE, 227, "h", {}),
            ("width", c1, "Input width W", layer_limits.LAYER_SIDE, 227, "w", {}),
            ("channels", c2, "Input depth C", layer_limits.LAYER_DEPTH, 3, "c", {}),
            ("kernel", c2, "Kernel size k", layer_limits.KERNEL, 11, "kernel", {}),
            ("stride", c3, "Stride s", layer_limits.STRIDE, 4, "stride", {}),
            ("padding", c3, "Padding p", layer_limits.PADDING, 0, "padding", {}),
            ("dilation", c4, "Dilation d", layer_limits.DILATION, 1, "dilation", {}),
            ("filters", c5, "Filters", layer_limits.FILTERS, 96, "filters", {"disabled": pool}),
            ("groups", c5, "Groups", layer_limits.GROUPS, 1, "groups", {"disabled": pool}),
        )
    }
    result = layer_arithmetic(LayerSpec(layer_type=kind, ceil_mode=pool and ceil, **values))
    m1, m2, m3 = st.columns(3)
    m1.metric("Output volume (H x W x C)", result.volume)
    m2.metric("Parameters", result.params_text)
    m3.metric("MACs", result.macs_text)
    show_worked(result.worked_rows())
    for problem in result.problems:
        (st.warning if result.output else st.error)(literal(problem))
    if result.suggestions:
        st.markdown("**Nearest settings that fit:**")
        st.markdown(
            "\n".join(f"- {literal(s.change)}: output {s.volume}" for s in result.suggestions)
        )
    for note in result.notes:
        st.info(literal(note))
    position = kernel_position(result)
    fig = cache.figure(kernel_positions_figure, result, column=position)  # shared by the class
    st.plotly_chart(fig, key="layer_calculator_figure")


def reset_model_inputs() -> None:
    """A new model starts at its own default input, first layer selected."""
    c, h, w = registry.get(st.session_state["layer_calculator_model_name"]).default_input
    st.session_state.update(
        layer_calculator_model_c=c, layer_calculator_model_h=h, layer_calculator_model_w=w
    )
    st.session_state.pop("layer_calculator_model_layer", None)


with model_tab:
    name = presets.choice(
        st.selectbox, "Model", registry.names(), default="alexnet_lecture",
        key="layer_calculator_model_name", param="model",
        format_func=lambda n: f"{registry.get(n).title} ({n})", on_change=reset_model_inputs,
    )  # fmt: skip
    dc, dh, dw = registry.get(name).default_input
    dims = (
        ("depth C", model_limits.INPUT_DEPTH, dc, "c"),
        ("height H", model_limits.INPUT_SIDE, dh, "h"),
    )
    dims += (("width W", model_limits.INPUT_SIDE, dw, "w"),)
    size = tuple(
        number(col, f"Input {what}", lim, d, f"layer_calculator_model_{p}", param=f"model_{p}")
        for col, (what, lim, d, p) in zip(st.columns(3), dims, strict=True)
    )
    try:
        analysis = analyze(name, size)
    except CnnvizError as err:
        show_error(err)
        analysis = None
    if analysis is not None:
        rows = show_model_table(analysis, name, size)
        names = [r["layer"] for r in rows]
        layer = presets.choice(
            st.selectbox, "Explain a layer", names, default=names[0],
            key="layer_calculator_model_layer", param="layer",
        )  # fmt: skip
        show_worked(explain_layer(analysis.layer(layer)))

with bottleneck_tab:
    st.markdown(
        "A 1x1 convolution keeps H x W and changes only the depth: a cheap way to shrink the "
        "input of an expensive 3x3 or 5x5 convolution (GoogLeNet's 'bottleneck')."
    )
    c1, c2, c3 = st.columns(3)
    h, w, depth, reduced = (
        number(col, label, limit, default, f"layer_calculator_{p}", param=p)
        for col, label, limit, default, p in (
            (c1, "Input height", layer_limits.BOTTLENECK_SIDE, 28, "1x1_h"),
            (c1, "Input width", layer_limits.BOTTLENECK_SIDE, 28, "1x1_w"),
            (c2, "Input depth", layer_limits.LAYER_DEPTH, 256, "1x1_depth"),
            (c2, "1x1 filters (reduced depth)", layer_limits.FILTERS, 64, "1x1_to"),
        )
    )
    kernel = presets.choice(
        c3.selectbox, "Following conv", [3, 5], default=3, key="layer_calculator_1x1_k",
        param="1x1_k", format_func=lambda k: f"{k}x{k}",
    )  # fmt: skip
    filters = number(c3, "Its filters", layer_limits.FILTERS, 192,
                     "layer_calculator_1x1_filters", param="1x1_filters")  # fmt: skip
    r = depth_reduction(h, w, depth, reduced, kernel, filters)
    st.markdown(
        f"`{hwc(h, w, depth)}` → 1x1 conv, {reduced} filters → `{r.reduce.volume}` "
        f"→ {kernel}x{kernel} conv, {filters} filters → `{r.after.volume}`"
    )
    costs = (("MACs", r.bottleneck_macs, r.direct.macs),)
    costs += (("Parameters", r.bottleneck_params, r.direct.params),)
    for col, (what, new, old) in zip(st.columns(2), costs, strict=True):
        delta, arrow = compared(new, old), direction(new, old)
        col.metric(f"{what} with the 1x1 first", f"{new:,}", delta, "inverse", delta_arrow=arrow)
    show_worked(r.worked_rows())
    st.plotly_chart(cache.figure(depth_reduction_figure, r), key="layer_calculator_1x1_figure")
presets.share()
