"""Transfer learning: a pretrained backbone, a new head, a student's dataset, live curves."""

import streamlit as st

from cnnviz.ui import presets
from cnnviz.ui import transfer_learning as ui

st.title("Transfer learning")
st.markdown(
    "CNNs need a lot of data. With a few hundred images, start from a network trained on "
    "ImageNet: **freeze** what it learned and **train** a new classifier on top, or fine-tune "
    "its last blocks too. Pick a dataset, choose what to freeze, and watch it train."
)

st.header("1. Data")
left, right = st.columns([1, 3])
with left:
    size = ui.image_size()
with right:
    source = ui.choose_source()
data = ui.dataset(source, size)
if data is not None:
    ui.show_dataset(data)

st.header("2. What to freeze, what to train")
config = probe = None
if data is None:  # a run started earlier still shows below
    st.caption("Choose a dataset first.")
else:
    config = ui.choose_config(data, size)
    probe = ui.show_estimate(data, config) if config is not None else None
presets.share()

st.header("3. Training")
handle = ui.job()
running = handle is not None and not handle.state.finished
# The queueing rule as a caption, not a tooltip: a tooltip stays up over the heading while the
# pointer rests on the clicked button for the whole run.
button_col, rule_col = st.columns([1, 4], vertical_alignment="center")
clicked = button_col.button(
    "Train",
    type="primary",
    icon=":material/play_arrow:",
    disabled=config is None or running,
    key="transfer_learning_train",
)
rule_col.caption(ui.TRAIN_RULE)
if clicked and data is not None and config is not None:
    handle = ui.start(data, config, probe) or handle
if handle is None:
    st.caption("The curves appear here while it trains.")
    st.stop()
progress = ui.live_panel(handle)
result = ui.finished_result(handle, progress)
if result is None:
    st.stop()

st.header("4. Results")
same_data = ui.show_run(handle, result, data, config)
ui.show_scores(result)
ui.show_mistakes(data if same_data else None, result)
trained = ui.offer_trained(handle, result)
st.subheader("Classify a new image")
ui.predict_panel(trained)
st.subheader("Take the model home")
ui.download(result)
st.caption("The Explain page can show what this model looks at.")
