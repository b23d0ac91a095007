"""Inception ops: the naive module vs the module with 1x1 bottlenecks, term by term."""

import streamlit as st

from cnnviz import inception_ops as ops
from cnnviz.analysis import MAC_CONVENTION, analyze
from cnnviz.errors import CnnvizError
from cnnviz.plots.inception_ops import macs_by_term, stacked_depth
from cnnviz.ui import show_error  # first: a first visit to this URL goes through app.py

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
c = c1.number_input("Input depth C", min_value=1, value=256, key="inception_ops_c")
h = c1.number_input("Input height H", min_value=1, value=28, key="inception_ops_h")
w = c1.number_input("Input width W", min_value=1, value=28, key="inception_ops_w")
widths = {
    key: col.number_input(
        label, min_value=1, value=bottleneck_defaults[key], key=f"inception_ops_{key}"
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

saving = 1 - bottleneck.total_macs / naive.total_macs
m1, m2, m3, m4 = st.columns(4)
m1.metric("Naive: MACs", f"{naive.total_macs:,}")
m2.metric("Naive: output volume", naive.output_volume)
m3.metric("Bottleneck: MACs", f"{bottleneck.total_macs:,}", f"{-saving:.0%}", delta_color="inverse")
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
    f"The bottlenecks cut the cost from **{naive.total_macs:,}** to "
    f"**{bottleneck.total_macs:,}** MACs (**{saving:.0%}** fewer), and the output depth from "
    f"{naive.output_depth} to {bottleneck.output_depth}."
)
st.plotly_chart(macs_by_term(naive, bottleneck), key="inception_ops_terms")

st.subheader("Why pooling makes the depth grow")
st.markdown(
    f"The pool branch keeps its input depth ({c}), and the concatenation adds the "
    f"convolutions' filters on top: a naive module's output is always deeper than its input "
    f"({widths['c1x1']} + {widths['c3x3']} + {widths['c5x5']} + {c} = {naive.output_depth}). "
    "Stacked, depth (and cost) can only grow. The 1x1 'pool proj' after the pool fixes the "
    "depth of the bottleneck module's output, whatever its input."
)
count = st.slider("Modules stacked", 2, 9, 5, key="inception_ops_modules")
naive_chain = ops.stacked_naive(naive, count)
st.plotly_chart(
    stacked_depth(naive_chain, ops.stacked_bottleneck(bottleneck, count)), key="inception_ops_stack"
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
