"""Streamlit widgets shared by several pages (the only place in cnnviz that imports streamlit)."""
