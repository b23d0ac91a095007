"""What every architecture page shows: inputs, totals, drawing, charts, table, quiz, facts."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from cnnviz import facts, quiz
from cnnviz.analysis import MAC_CONVENTION, MEMORY_CONVENTION, Analysis
from cnnviz.errors import CnnvizError
from cnnviz.model_limits import INPUT_DEPTH, INPUT_SIDE
from cnnviz.notation import compact, megabytes, volume
from cnnviz.plots import architecture as plots
from cnnviz.ui import cache, presets
from cnnviz.ui.errors import show_error
from cnnviz.ui.formulas import formula, literal


def input_size_picker(
    default: tuple[int, int, int], key: str, channels: bool = False
) -> tuple[int, int, int]:
    """Number inputs for the input volume (H = W unless the student unlinks them)."""
    c, h, _w = default
    cols = st.columns(3)
    size = presets.number(
        cols[0],
        "Input height = width (pixels)",
        INPUT_SIDE,
        h,
        f"{key}_hw",
        param="size",
        help="Change it and watch every output volume, the FC sizes and the MACs follow.",
    )
    if channels:
        c = presets.number(cols[1], "Input channels", INPUT_DEPTH, c, f"{key}_c", param="c")
    return int(c), int(size), int(size)


def analysis_or_error(
    name: str, input_size: tuple[int, int, int], **options: Any
) -> Analysis | None:
    """The live analysis, or a clear error in the page (never a traceback)."""
    try:
        return cache.analyze(name, input_size, **options)
    except (CnnvizError, ValueError, TypeError) as err:
        show_error(err)
    return None


def show_totals(a: Analysis) -> None:
    """Totals as metrics, with the conventions spelled out.

    Labels stay one short word or two (the long form is in the help) so that four metrics fit
    side by side on a projector at 1024 px with the sidebar open (see cnnviz.ui.style).
    """
    cols = st.columns(4)
    cols[0].metric("Parameters", f"{a.total_params:,}", help="Weights and biases, all layers")
    cols[1].metric("Trainable", f"{a.trainable_params:,}", help="Parameters that training updates")
    cols[2].metric(
        "MACs per image",
        compact(a.total_macs),
        help=f"Multiply-accumulates: {a.total_macs:,} weight multiplications per image",
    )
    cols[3].metric(
        "Memory (fp32)",
        megabytes(a.activation_values * 4),
        help=f"Activation memory in float32. {MEMORY_CONVENTION}",
    )
    st.caption(
        f"{a.total_macs:,} MACs per image; network output: {volume(a.output_shape)}. "
        f"{MAC_CONVENTION}"
    )


def layer_table(a: Analysis, all_layers: bool) -> pd.DataFrame:
    """One row per layer call (conv, pool and FC only unless all_layers)."""
    rows = [
        {
            "layer": layer.name,
            "type": layer.type,
            "output (HxWxC)": layer.volume(),
            "params": layer.params,
            "MACs": layer.macs,
            "activations": layer.activations,
        }
        for layer in a.leaves
        if all_layers or layer.kind in ("conv", "pool", "fc")
    ]
    return pd.DataFrame(rows)


def show_architecture(a: Analysis, key: str) -> None:
    """The drawing, where the parameters and MACs sit, and the layer table, in tabs.

    Only the open tab is filled (opening another reruns the page, `presets.tabs`): the browser
    drew the hidden ones too, two charts and a table, about a third of an architecture page's
    drawing time when a student arrives from the home chart or the sidebar.
    """
    draw, where, table = presets.tabs(
        ["Architecture", "Where are the parameters and MACs?", "Layer table"],
        ["drawing", "costs", "table"],
        key=f"{key}_view",
        param="tab",
    )
    if draw.open:
        with draw:
            st.plotly_chart(cache.figure(plots.architecture_figure, a), key=f"{key}_draw")
            st.caption(
                "Each box is a layer's output volume: height ~ spatial size, width ~ "
                "log(depth). Hover a box for its numbers."
            )
    if where.open:
        with where:
            st.plotly_chart(cache.figure(plots.share_by_kind_figure, a), key=f"{key}_share")
            st.plotly_chart(cache.figure(plots.per_layer_figure, a), key=f"{key}_per_layer")
    if table.open:
        with table:
            all_layers = presets.toggle(
                st.toggle,
                "Show every layer (activations, norms, dropout)",
                default=False,
                key=f"{key}_all",
                param="every",
            )
            number = st.column_config.NumberColumn(format="localized")
            st.dataframe(
                cache.arrow_table(layer_table, a, all_layers),
                hide_index=True,
                column_config={"params": number, "MACs": number, "activations": number},
                key=f"{key}_table",
            )


def _clear_answers_for(key: str, prompt: str) -> None:
    """Empty the answer fields when the question changes (another layer, variant or input):
    a new question starts with no answer typed in. Runs before the fields are drawn."""
    if st.session_state.get(f"{key}_prompt") != prompt:
        st.session_state[f"{key}_prompt"] = prompt
        st.session_state[f"{key}_vol"] = ""
        st.session_state[f"{key}_par"] = ""


def _verdict(what: str, verdict: quiz.Verdict) -> None:
    note = f" ({literal(verdict.note)})" if verdict.note else ""
    if verdict:
        st.success(f"{what}: right.{note}", icon=":material/check_circle:")
    else:
        st.error(f"{what}: not quite{note}. See the working below.", icon=":material/cancel:")


def show_quiz(a: Analysis, key: str) -> None:
    """Predict, then reveal: the student answers before seeing the worked formula."""
    questions = quiz.questions(a)
    if not questions:
        return
    st.subheader("Predict, then reveal")
    first = {}  # each name's first call, as a.layer(name) finds it (once, not per question)
    for layer in a.layers:
        first.setdefault(layer.name, layer)
    labels = [f"{quiz.label(first[q.layer])}" for q in questions]
    i = st.selectbox(
        "Layer", range(len(questions)), format_func=lambda j: labels[j], key=f"{key}_q"
    )
    q = questions[i]
    _clear_answers_for(key, q.prompt)
    st.markdown(f"**{literal(q.prompt)}**")
    with st.form(f"{key}_form"):
        cols = st.columns(2)
        vol = cols[0].text_input(
            "Output volume (H x W x C)", key=f"{key}_vol", placeholder="H x W x C"
        )
        par = cols[1].text_input(
            f"Parameters ({quiz.PARAMS_CONVENTION})",
            key=f"{key}_par",
            placeholder="e.g. 1,234 or 1.2K",
        )
        checked = st.form_submit_button("Check my answer")
        revealed = st.form_submit_button("Just show me", type="tertiary")
    state = st.session_state.setdefault(f"{key}_answers", {})
    if checked:
        state[q.prompt] = (quiz.check_volume(q, vol), quiz.check_params(q, par))
    elif revealed:
        state[q.prompt] = None
    if q.prompt not in state:
        return
    if state[q.prompt] is not None:
        for what, verdict in zip(("Output volume", "Parameters"), state[q.prompt], strict=True):
            _verdict(what, verdict)
    # Formulas as code spans: Markdown would read their '*' as emphasis.
    st.markdown(
        f"- **Output volume:** {formula(q.volume_work)}\n"
        f"- **Parameters:** {formula(q.params_work)}\n"
        f"- **MACs:** {formula(q.macs_work)}"
    )


def show_facts(topic: str) -> None:
    """The lecture's key facts, the training recipe and the slides' errata for a topic, each
    shown exactly as written (a fact's '11*11*3*96' must not turn into italics)."""
    left, right = st.columns(2)
    with left:
        st.subheader("Key facts")
        st.markdown("\n".join(f"- {literal(f)}" for f in facts.KEY_FACTS.get(topic, ())))
    with right:
        st.subheader("Training recipe")
        st.markdown("\n".join(f"- {literal(r)}" for r in facts.RECIPES.get(topic, ())))
    for e in facts.errata(topic):
        st.warning(
            f"**Erratum.** The slide says *{literal(e.slide_says)}*; the right figure is "
            f"**{literal(e.computed)}**: {literal(e.why)}.",
            icon=":material/report:",
        )
