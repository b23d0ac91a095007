"""Placeholder: filled in by the Calculators issue."""

import streamlit as st

st.title("inception_ops")
st.info("Coming soon.")
