"""Placeholder: filled in by the Calculators issue."""

import streamlit as st

st.title("vgg_stacking")
st.info("Coming soon.")
