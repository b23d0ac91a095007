"""The teacher's corner of the home page: which pretrained weight files this server has, and
the command that fetches them before an offline class."""

from __future__ import annotations

import pyarrow as pa
import streamlit as st

from cnnviz import synthetic, weights
from cnnviz.ui import cache

FETCH_ALL = "python -m cnnviz fetch-weights --all"


@st.cache_resource(ttl=30, show_spinner=False)
def _status() -> tuple[list[dict[str, object]], pa.Table]:
    """The weight files' rows, and the Arrow table st.dataframe makes of them (read only).
    Shared by every session for 30 s: a file fetched meanwhile shows up at the next view."""
    from cnnviz.train import BACKBONES  # torchvision's builders: only when the panel draws

    rows = weights.weights_status(weights.app_weights(BACKBONES))
    return rows, cache.to_arrow(rows)


def weights_panel() -> None:
    """A collapsed expander: present / missing weight files and the fetch command."""
    rows, table = _status()
    missing = [str(r["model"]) for r in rows if not r["present"]]
    label = f"Pretrained weights on this server: {len(rows) - len(missing)} of {len(rows)}"
    with st.expander(label, icon=":material/cloud_download:"):
        st.caption(
            "The app never downloads: pages that need ImageNet weights (Receptive fields, "
            "Explain, Transfer learning) read them from torch's checkpoints folder (under "
            "TORCH_HOME, where fetch-weights puts them). "
            "Before an offline class, on a machine with internet, run:"
        )
        st.code(FETCH_ALL, language="bash")
        if missing:
            st.caption("or fetch only the missing files:")
            st.code(f"python -m cnnviz fetch-weights {' '.join(missing)}", language="bash")
        st.dataframe(
            table,
            hide_index=True,
            column_config={"present": st.column_config.CheckboxColumn("present")},
            key="home_weights",
        )
        if synthetic.available():
            st.caption(
                "Without ImageNet files, Transfer learning starts resnet18 from the synthetic "
                f"backbone that ships with the app ({synthetic.WEIGHTS_PATH.name}). "
                + synthetic.description()
            )
