"""cnnviz: routing only. The pages live in pages/, their list in cnnviz/ui/navigation.py."""

import streamlit as st

from cnnviz.ui.navigation import PAGES

st.set_page_config(
    page_title="cnnviz: CNN architectures", page_icon=":material/neurology:", layout="wide"
)

sections: dict[str, list] = {}
for page in PAGES:
    sections.setdefault(page.section, []).append(
        st.Page(page.path, title=page.title, icon=page.icon, default=page.default)
    )
st.navigation(sections).run()
