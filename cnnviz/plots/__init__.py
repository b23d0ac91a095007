"""Plotly figures: functions that return a go.Figure; pages only call st.plotly_chart."""
