"""The server's runtime: what changes how Streamlit serves cnnviz to a class.

`access` (the class code, the per-browser secret) and `gate` (the ASGI middleware that asks
for the code and hands out the browser's cookie, installed in front of Streamlit's own) live
here; every patch of a Streamlit, Starlette or Plotly internal belongs in this package, each
with the upstream source it relies on and a test that fails when that source changes.
"""
