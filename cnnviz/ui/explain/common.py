"""The Explain page's shared parts: the input's fingerprint (cache and job keys), a layer's label,
and a slow computation as a job of the browser."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import streamlit as st
import torch

from cnnviz.errors import CnnvizError
from cnnviz.jobs import JobState, default_runner
from cnnviz.ui.errors import show_error
from cnnviz.ui.jobs import current_job, job_panel, owner_key, remember_job

TRAINED_KEY = "transfer_learning_trained"  # where the transfer-learning page keeps its model


def fingerprint(x: torch.Tensor) -> str:
    """A short hash of the input, for cache and job keys."""
    return hashlib.sha1(x.numpy().tobytes()).hexdigest()[:16]


def layer_label(name: str, layers: dict[str, tuple]) -> str:
    c, h, w = layers[name]
    return f"{name} ({h}x{w}x{c})"


def job(
    fn: Callable[..., Any], args: Callable[[], tuple], signature: str, param: str, label: str
) -> Any | None:
    """Start `fn(*args())` as a job on a click (`args` is called then: a fine-tuned model is
    written to the model store for its spec only when a job needs it); its result once done,
    for these inputs only."""
    runner = default_runner()
    handle = current_job(runner, param)
    if handle is not None and st.session_state.get(f"{param}_signature") != signature:
        handle = None  # a job for other inputs (a refresh forgets the signature: start again)
    if st.button(label, key=f"{param}_start", icon=":material/play_arrow:"):
        try:
            handle = remember_job(runner.submit(fn, *args(), session=owner_key()), param)
        except CnnvizError as err:
            show_error(err)
            return None
        st.session_state[f"{param}_signature"] = signature
    if handle is None:
        return None
    progress = job_panel(handle, key=f"{param}_panel")
    if progress.state is not JobState.DONE:
        return None
    try:
        return handle.result(timeout=0)
    except CnnvizError as err:
        show_error(err)
        return None
