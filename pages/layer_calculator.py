"""Placeholder: filled in by the Calculators issue."""

import streamlit as st

st.title("layer_calculator")
st.info("Coming soon.")
