"""cnnviz: routing only. The pages live in pages/, their list in cnnviz/ui/navigation.py."""

from pathlib import Path

import streamlit as st

from cnnviz import server
from cnnviz.ui.jobs import track_browser
from cnnviz.ui.navigation import PAGES
from cnnviz.ui.style import apply_style

# A local favicon: a Material icon name would be fetched from Google's servers, and a lecture
# hall is often offline.
FAVICON = Path(__file__).parent / "assets" / "favicon.png"

# The server's patches, once per process (the launcher has applied them already; this is for a
# plain `streamlit run app.py` and AppTest): cnnviz/server/.
server.install()
st.set_page_config(page_title="cnnviz: CNN architectures", page_icon=FAVICON, layout="wide")
apply_style()
track_browser()  # this tab belongs to its browser: its jobs stop when the browser has gone

sections: dict[str, list] = {}
for page in PAGES:
    sections.setdefault(page.section, []).append(
        st.Page(page.path, title=page.title, icon=page.icon, default=page.default)
    )
st.navigation(sections).run()
