"""The teacher's corner of the home page: which pretrained weight files this server has, and
the command that fetches them before an offline class."""

from __future__ import annotations

import streamlit as st
import torch

from cnnviz import weights

FETCH_ALL = "python -m cnnviz fetch-weights --all"


@st.cache_data(ttl=30, show_spinner=False)
def _status() -> list[dict[str, object]]:
    # Shared by every session for 30 s: a file fetched meanwhile shows up at the next view.
    return weights.weights_status(weights.app_weights())


def weights_panel() -> None:
    """A collapsed expander: present / missing weight files and the fetch command."""
    rows = _status()
    missing = [str(r["model"]) for r in rows if not r["present"]]
    label = f"Pretrained weights on this server: {len(rows) - len(missing)} of {len(rows)}"
    with st.expander(label, icon=":material/cloud_download:"):
        st.caption(
            "The app never downloads: pages that need ImageNet weights (Receptive fields, "
            f"Explain, Transfer learning) read them from {torch.hub.get_dir()}/checkpoints. "
            "Before an offline class, on a machine with internet, run:"
        )
        st.code(FETCH_ALL, language="bash")
        if missing:
            st.caption("or fetch only the missing files:")
            st.code(f"python -m cnnviz fetch-weights {' '.join(missing)}", language="bash")
        st.dataframe(
            rows,
            hide_index=True,
            column_config={"present": st.column_config.CheckboxColumn("present")},
            key="home_weights",
        )
