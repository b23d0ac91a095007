"""The augmentation explorer's widgets: the image, the pipeline editor (add, set, reorder,
remove steps), and the grid of draws, cached by its inputs (the draws are deterministic)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import streamlit as st
import torch

from cnnviz.augment import CATALOG, Param, Step, limits, make_step, sources
from cnnviz.augment.draws import draw
from cnnviz.errors import CnnvizError
from cnnviz.plots.augment import grid_columns, tile, view_format
from cnnviz.presets import slug
from cnnviz.ui import presets
from cnnviz.ui.errors import show_error
from cnnviz.ui.inputs import bounded

KEY = "augmentation"
UPLOAD = "Upload your own"
# ImageNet training's recipe since AlexNet: random crops, mirror images, color changes.
DEFAULT_PIPELINE = ("Random resized crop", "Horizontal flip", "Color jitter")
PARAMS_PER_ROW = 4


# --- The image ---------------------------------------------------------------------------
@st.cache_data(max_entries=64, show_spinner=False)
def _source_image(name: str, label: int) -> torch.Tensor:
    return sources.source(name, label)


@st.cache_data(max_entries=32, show_spinner=False)
def _uploaded_image(raw: bytes) -> torch.Tensor:
    return sources.upload(raw)


def choose_image() -> tuple[str, torch.Tensor | None]:
    """The image picked (a built-in one, a digit, or an upload) and a key that names it;
    None with the error shown when an upload cannot be used."""
    choice_col, detail_col, view_col = st.columns([2, 2, 1], vertical_alignment="center")
    name = presets.choice(
        choice_col.selectbox, "Image", (*sources.SOURCES, UPLOAD), default=sources.SOURCES[0],
        key=f"{KEY}_image", param="image", name=slug,
    )  # fmt: skip
    if name == sources.DIGIT:
        label = presets.choice(
            detail_col.selectbox, "Digit (scikit-learn's load_digits)", range(10), default=6,
            key=f"{KEY}_digit", param="digit",
        )  # fmt: skip
        image, key = _source_image(name, label), f"digit {label}"
    elif name == UPLOAD:
        upload = detail_col.file_uploader(
            "PNG, JPEG or WEBP", type=["png", "jpg", "jpeg", "webp"], key=f"{KEY}_upload"
        )
        if upload is None:
            detail_col.caption("No file yet: the astronaut stands in.")
            return "Astronaut", _source_image("Astronaut", 0)
        raw = upload.getvalue()
        try:
            image = _uploaded_image(raw)
        except CnnvizError as err:
            show_error(err)
            return name, None
        key = f"upload {upload.file_id}"
    else:
        image, key = _source_image(name, 0), name
        detail_col.caption(
            f"scikit-image's bundled photo, center square at {sources.PHOTO_SIDE} px."
        )
    view_col.image(
        tile(image, 96),
        output_format=view_format(image),
        caption=f"original, {image.shape[2]}x{image.shape[1]}",
    )
    return key, image


# --- The pipeline editor -----------------------------------------------------------------
def _steps_state() -> list[dict[str, Any]]:
    """The editor's steps, [{"id", "name"}] in order; ids keep widget keys stable on reorder."""
    if f"{KEY}_steps" not in st.session_state:
        st.session_state[f"{KEY}_steps"] = [
            {"id": i, "name": n} for i, n in enumerate(DEFAULT_PIPELINE)
        ]
        st.session_state[f"{KEY}_next_id"] = len(DEFAULT_PIPELINE)
    return st.session_state[f"{KEY}_steps"]


def _add() -> None:
    steps = _steps_state()
    if len(steps) < limits.PIPELINE_STEPS.high:
        steps.append(
            {"id": st.session_state[f"{KEY}_next_id"], "name": st.session_state[f"{KEY}_add"]}
        )
        st.session_state[f"{KEY}_next_id"] += 1


def _move(index: int, by: int) -> None:
    steps = _steps_state()
    other = index + by
    if 0 <= other < len(steps):
        steps[index], steps[other] = steps[other], steps[index]


def _remove(index: int) -> None:
    del _steps_state()[index]


def _param_widget(column: Any, param: Param, key: str, side: int) -> Any:
    if param.kind == "choice":
        return column.selectbox(param.label, param.options, key=key, help=param.help or None)
    extra = {"help": param.help} if param.help else {}
    if param.kind == "int":
        step = 2 if param.name == "kernel_size" else 1  # odd kernels only: 1, 3, 5, ...
        default = param.default
        if param.image_side:  # a new source image, a new widget with that image's side
            default = min(max(side, param.limit.low), param.limit.high)
            key = f"{key}_{side}"
        return bounded(column, param.label, param.limit, default, key, step=step, **extra)
    bounds = param.limit.bounds
    if param.help:
        bounds["help"] = f"{param.help} {bounds['help']}"
    value = tuple(param.default) if param.kind == "range" else param.default
    return column.slider(param.label, value=value, key=key, **bounds)


def _step_editor(index: int, entry: dict[str, Any], count: int, side: int) -> Step | None:
    spec = CATALOG[entry["name"]]
    prefix = f"{KEY}_step{entry['id']}"
    with st.container(border=True):
        title, up, down, remove = st.columns([10, 1, 1, 1], vertical_alignment="center")
        title.markdown(f"**{index + 1}. {spec.name}** (`v2.{spec.cls}`): {spec.what}")
        up.button(
            "↑",
            key=f"{prefix}_up",
            on_click=_move,
            args=(index, -1),
            disabled=index == 0,
            help="Move up",
        )
        down.button(
            "↓",
            key=f"{prefix}_down",
            on_click=_move,
            args=(index, 1),
            disabled=index == count - 1,
            help="Move down",
        )
        remove.button(
            "✕", key=f"{prefix}_remove", on_click=_remove, args=(index,), help="Remove this step"
        )
        values = {}
        if spec.params:
            columns = st.columns(PARAMS_PER_ROW)
            for i, param in enumerate(spec.params):
                values[param.name] = _param_widget(
                    columns[i % PARAMS_PER_ROW], param, f"{prefix}_{param.name}", side
                )
    try:
        return make_step(spec.name, values)
    except CnnvizError as err:
        show_error(err)
        return None


def pipeline_editor(side: int = sources.PHOTO_SIDE) -> tuple[Step, ...] | None:
    """The pipeline the student composes, validated; None when a value is refused (shown).
    Output sides start at the image's own `side`."""
    entries = _steps_state()
    steps = [_step_editor(i, e, len(entries), side) for i, e in enumerate(entries)]
    add_col, button_col = st.columns([3, 1], vertical_alignment="bottom")
    add_col.selectbox("Add a step", tuple(CATALOG), key=f"{KEY}_add")
    button_col.button(
        "Add step",
        key=f"{KEY}_add_button",
        on_click=_add,
        icon=":material/add:",
        disabled=len(entries) >= limits.PIPELINE_STEPS.high,
        help=limits.PIPELINE_STEPS.help,
    )
    if any(s is None for s in steps):
        return None
    return tuple(s for s in steps if s is not None)


# --- The grid settings ------------------------------------------------------------------
def _draw_again() -> None:
    seed = st.session_state[f"{KEY}_seed"]
    st.session_state[f"{KEY}_seed"] = (seed + 1) % (limits.SEED.high + 1)


def grid_settings() -> tuple[int, int]:
    """The number of draws and the seed (with a button that moves to the next seed)."""
    n_col, seed_col, again_col = st.columns(3, vertical_alignment="bottom")
    n = presets.number(n_col, "Draws (N)", limits.DRAWS, 6, f"{KEY}_n", param="n")
    # After the button has set the seed through the Session State, presets.number gives the
    # widget no value of its own (Streamlit warns about the two).
    seed = presets.number(seed_col, "Seed", limits.SEED, 0, f"{KEY}_seed", param="seed")
    again_col.button(
        "Draw again (seed + 1)", key=f"{KEY}_again", on_click=_draw_again, icon=":material/casino:"
    )
    return n, seed


# --- The grid of draws (cached) ---------------------------------------------------------
# The draws themselves are cached, not their enlarged tiles: 24 digits enlarged to 384 px would
# be 10 MB an entry; as drawn they are 74 kB (photos at 224: 3.6 MB for 24, 0.9 MB for 6).
@st.cache_data(max_entries=64, ttl=3600, show_spinner=False)
def _draws(
    image_key: str, steps: tuple[tuple[str, tuple], ...], n: int, seed: int, _image: torch.Tensor
):
    """The n draws' images and captions; keyed by the image's name, the pipeline, n and seed."""
    del image_key  # names _image for the cache (hashing the pixels would cost more)
    result = draw(_image, [Step(name, values) for name, values in steps], n, seed)
    return [(d.image, d.caption()) for d in result]


def draws_for(image_key: str, image: torch.Tensor, steps: Sequence[Step], n: int, seed: int):
    """[(C x H x W uint8 draw, caption)] for the grid, computed once per distinct input."""
    plain = tuple((s.name, s.values) for s in steps)
    return _draws(image_key, plain, n, seed, image)


def draws_grid(draws: Sequence[tuple[torch.Tensor, str]]) -> None:
    """The draws in rows, each with what its steps drew as the caption."""
    columns = grid_columns(len(draws))
    for i, (image, caption) in enumerate(draws):
        if i % columns == 0:
            row = st.columns(columns)
        # Stretched: with its natural width, a long caption would widen some images only.
        row[i % columns].image(
            tile(image),
            caption=f"{i + 1}. {caption}",
            output_format=view_format(image),
            width="stretch",
        )
