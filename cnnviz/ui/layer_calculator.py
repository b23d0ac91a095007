"""The layer calculator page's parts that hold state or several widgets."""

from __future__ import annotations

import streamlit as st

from cnnviz.analysis import Analysis
from cnnviz.layer_calculator import LayerArithmetic
from cnnviz.layer_table import layer_rows, layer_table_csv
from cnnviz.notation import volume
from cnnviz.plots.layer_calculator import layer_costs_figure


def kernel_position(result: LayerArithmetic) -> int:
    """A slider for the window's position along the first output row (0 where there is one)."""
    out_w = result.output[1] if result.output else 1
    if st.session_state.get("layer_calculator_position", 0) >= out_w:
        st.session_state["layer_calculator_position"] = 0  # the last layer's row was longer
    if out_w <= 1:
        return 0
    return st.slider(
        "Kernel position along the first row", 0, out_w - 1, key="layer_calculator_position"
    )


def show_model_table(analysis: Analysis, name: str, size: tuple[int, int, int]) -> list[dict]:
    """Totals, the layer table and its CSV download; returns the table's rows."""
    rows = layer_rows(analysis)
    m1, m2, m3 = st.columns(3)
    m1.metric("Output", volume(analysis.output_shape))
    m2.metric("Parameters", f"{analysis.total_params:,}")
    m3.metric("MACs", f"{analysis.total_macs:,}")
    number = st.column_config.NumberColumn
    config = {"params": number("parameters", format="localized")}
    config["macs"] = number("MACs", format="localized")
    st.dataframe(rows, column_config=config, key="layer_calculator_model_table")
    st.download_button(
        "Download the table as CSV",
        layer_table_csv(analysis),
        file_name=f"{name}_{volume(size)}.csv",
        mime="text/csv",
        on_click="ignore",
        key="layer_calculator_model_csv",
    )
    with st.expander("Parameters and MACs per layer"):
        st.plotly_chart(layer_costs_figure(rows), key="layer_calculator_model_costs")
    return rows
