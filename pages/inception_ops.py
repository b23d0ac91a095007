"""Inception ops: the naive module vs the module with 1x1 bottlenecks, term by term."""

import streamlit as st

from cnnviz import inception_ops as ops
from cnnviz import layer_limits, model_limits
from cnnviz.analysis import MAC_CONVENTION, analyze
from cnnviz.errors import CnnvizError
from cnnviz.layer_calculator import compared, direction
from cnnviz.plots.inception_ops import macs_by_term_figure, stacked_depth_figure
from cnnviz.ui import presets, show_error  # first: a first visit goes through app.py

st.title("Inception ops")
st.markdown(
    "GoogLeNet's Inception module runs 1x1, 3x3 and 5x5 convolutions and a 3x3 max pool side "
    "by side on the same input and concatenates the outputs depth-wise. Each convolution costs "
    "H x W x filters x k x k x input depth multiplications."
)
st.caption(MAC_CONVENTION)

naive_defaults = ops.lecture_widths("inception_naive")
bottleneck_defaults = ops.lecture_widths("inception_bottleneck")
c1, c2, c3, c4 = st.columns(4)
number = presets.number  # its `param` is the widget key's suffix: ?c=480&h=14&w=14&c3x3=208
c = number(c1, "Input depth C", model_limits.INPUT_DEPTH, 256, "inception_ops_c", param="c")
h = number(c1, "Input height H", model_limits.INPUT_SIDE, 28, "inception_ops_h", param="h")
w = number(c1, "Input width W", model_limits.INPUT_SIDE, 28, "inception_ops_w", param="w")
widths = {
    key: number(
        col, label, model_limits.WIDTH, bottleneck_defaults[key], f"inception_ops_{key}", param=key
    )
    for key, label, col in (
        ("c1x1", "1x1 conv filters", c2),
        ("c3x3", "3x3 conv filters", c2),
        ("c5x5", "5x5 conv filters", c2),
        ("c3x3_reduce", "3x3 reduce (1x1) filters", c3),
        ("c5x5_reduce", "5x5 reduce (1x1) filters", c3),
        ("pool_proj", "pool proj (1x1) filters", c3),
    )
}
c4.markdown("Naive: the first column only.  \nBottleneck: adds the 1x1 reductions.")
naive = ops.naive_ops((c, h, w), **{k: widths[k] for k in naive_defaults})
bottleneck = ops.bottleneck_ops((c, h, w), **widths)

try:
    checks = [
        ops.engine_check(m, analyze(m.module, m.input, **o))
        for m, o in ((naive, {k: widths[k] for k in naive_defaults}), (bottleneck, widths))
    ]
except CnnvizError as err:
    show_error(err)
    st.stop()

change = compared(bottleneck.total_macs, naive.total_macs)
m1, m2, m3, m4 = st.columns(4)
m1.metric("Naive: MACs", f"{naive.total_macs:,}")
m2.metric("Naive: output volume", naive.output_volume)
m3.metric(
    "Bottleneck: MACs",
    f"{bottleneck.total_macs:,}",
    compared(bottleneck.total_macs, naive.total_macs, against=False),
    "inverse",
    delta_arrow=direction(bottleneck.total_macs, naive.total_macs),
)
m4.metric("Bottleneck: output volume", bottleneck.output_volume)
for col, module, check in zip(st.columns(2), (naive, bottleneck), checks, strict=True):
    with col:
        st.subheader("Naive module" if module is naive else "With 1x1 bottlenecks")
        slide = "\n".join(f"{t.label:<17} {t.formula}" for t in module.terms)
        st.code(f"{slide}\nTotal: {module.total_macs:,} ops", language=None, wrap_lines=True)
        agree = check.agrees(module)
        (st.success if agree else st.error)(
            f"The real module ({module.module}) gives {check.engine_total:,} MACs, depth "
            f"{check.engine_output_depth}: {'the same' if agree else 'not the same'}.",
            icon=":material/check_circle:" if agree else ":material/error:",
        )
st.dataframe(
    [row for m, c in zip((naive, bottleneck), checks, strict=True) for row in ops.check_rows(m, c)],
    column_config={"engine MACs": st.column_config.NumberColumn(format="localized")},
    # The verdict first: at 1024 px the last columns scrolled out of sight.
    column_order=("module", "term", "agree", "engine MACs", "closed form", "engine layer"),
    hide_index=True,
    key="inception_ops_check",
)

st.markdown(
    f"With the bottlenecks the module costs **{bottleneck.total_macs:,}** MACs, {change} "
    f"without them, and its output depth is {bottleneck.output_depth} instead of "
    f"{naive.output_depth}."
)
st.plotly_chart(macs_by_term_figure(naive, bottleneck), key="inception_ops_terms")

st.subheader("Why pooling makes the depth grow")
st.markdown(
    f"The pool branch keeps its input depth ({c}), and the concatenation adds the "
    f"convolutions' filters on top: a naive module's output is always deeper than its input "
    f"({widths['c1x1']} + {widths['c3x3']} + {widths['c5x5']} + {c} = {naive.output_depth}). "
    "Stacked, depth (and cost) can only grow. The 1x1 'pool proj' after the pool fixes the "
    "depth of the bottleneck module's output, whatever its input."
)
count = presets.slider(
    st, "Modules stacked", layer_limits.STACKED_MODULES, 5, "inception_ops_modules", param="modules"
)
presets.share()
naive_chain = ops.stacked_naive(naive, count)
st.plotly_chart(
    stacked_depth_figure(naive_chain, ops.stacked_bottleneck(bottleneck, count)),
    key="inception_ops_stack",
)
st.caption(f"Depth after each naive module: {', '.join(str(m.output_depth) for m in naive_chain)}.")

st.subheader(f'Erratum: the slide\'s "Total: {ops.SLIDE_BOTTLENECK_TOTAL} ops"')
e = ops.slide_erratum()
t, t128 = e.term3x3, e.term3x3_on_c1x1
st.markdown(
    f"On the lecture's numbers (28x28x256) the slide's own bottleneck terms add up to "
    f"**{e.terms_total:,}**, not {ops.SLIDE_BOTTLENECK_TOTAL}. The slide's number comes out "
    f"two ways, both giving **{e.counted_twice:,}**:\n"
    f"- counting the 3x3 term twice: {e.terms_total:,} + {t.macs:,} = {e.counted_twice:,};\n"
    f"- taking the 3x3's input depth as {t128.depth} (the 1x1 branch's width) instead of "
    f"{t.depth}: `{t128.formula}` in place of `{t.formula}`, total {e.on_c1x1_total:,}.\n\n"
    f"The naive total, {ops.SLIDE_NAIVE_TOTAL}, matches its terms. Either way the bottleneck "
    "module needs about a third of the naive module's multiplications."
)
