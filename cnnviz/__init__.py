"""cnnviz: the library behind the CNN-architectures lecture app (no streamlit outside cnnviz.ui)."""

from cnnviz.registry import build, get, names

__version__ = "0.1.0"
__all__ = ["build", "get", "names"]
