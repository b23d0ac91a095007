"""Placeholder: filled in by the Calculators issue."""

import streamlit as st

st.title("receptive_field")
st.info("Coming soon.")
