"""Page presets: a page's main widgets start from the URL's query parameters and write their
value back, so the address bar always holds the view and a teacher can hand it out as a link.

    depth = presets.choice(st.radio, "Depth", [11, 13, 16, 19], default=16, key="vgg_depth",
                           param="depth", horizontal=True)
    size = presets.number(cols[0], "Input size", model_limits.INPUT_SIDE, 224, "vgg_hw",
                          param="size")
    presets.share()  # the "Copy link to this view" box in the sidebar

The URL sets a widget once, when the page is opened (from a link, a refresh or the sidebar);
after that the widgets are the view and the URL follows them. A value equal to the default
leaves the URL, so links stay short. A parameter the page cannot use (cnnviz.presets parses it
against the widget's own bounds) gives one notice and the default, never an error. Other query
parameters (cnnviz.ui.jobs' `jobs`, `*_job`) are left alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import streamlit as st

from cnnviz.errors import BadPreset
from cnnviz.limits import Limit, Span
from cnnviz.presets import (
    encode,
    parse_choice,
    parse_choices,
    parse_flag,
    parse_number,
    parse_pair,
    share_url,
)
from cnnviz.server import script_run
from cnnviz.ui.formulas import literal
from cnnviz.ui.inputs import bounded

T = TypeVar("T")
_SEEN = "_presets_seen"  # (page script hash, the parameters read since it was opened)


def _first_read(param: str) -> bool:
    """Whether `param` is read for the first time since this page was opened. Only then does
    the URL set a widget: afterwards the widgets say what the URL holds, and a widget that
    appears later (the layers of another model) starts from its own default."""
    page = script_run.page_script_hash()
    seen = st.session_state.get(_SEEN)
    if seen is None or seen[0] != page:
        seen = st.session_state[_SEEN] = (page, set())
    first = param not in seen[1]
    seen[1].add(param)
    return first


def read(param: str, default: T, parse: Callable[[str], T]) -> T:
    """The URL's value of `param`, parsed, when the page has just been opened; the default
    (with a notice naming the parameter and its value) when the page cannot use it."""
    text = st.query_params.get(param)
    if not _first_read(param) or text is None:
        return default
    try:
        return parse(text)
    except BadPreset as err:
        st.warning(literal(str(err)), icon=":material/link_off:")
        return default


def keep(param: str, value: Any, default: Any, name: Callable[[Any], str] = encode) -> None:
    """Write the widget's value to the URL (remove it when it is the default)."""
    if value == default:
        if param in st.query_params:
            del st.query_params[param]
        return
    text = name(value)
    if st.query_params.get(param) != text:
        st.query_params[param] = text


def _new(key: str) -> bool:
    return key not in st.session_state


_FROM_STATE = object()  # the widget takes its value from st.session_state: give it none


def _start(key: str, param: str, default: Any, parse: Callable[[str], Any]) -> Any:
    """The value to give a widget: the URL's (or the default) when it is new; afterwards its
    own current value, so that what the page sends the browser as the widget's default is
    always what it holds. Without a value a number input's default becomes its minimum, and
    a browser that draws the widget afresh (a section that appears after an upload, a
    reconnect) showed 1 epoch or 16 px while the page used 3 or 32. A value set through
    st.session_state in this run (a button's "draw again", a click on a chart) is taken
    from there: giving one as well makes Streamlit warn."""
    if _new(key):
        return read(param, default, parse)
    if script_run.is_new_state_value(key):
        return _FROM_STATE
    return st.session_state[key]


def number(
    column: Any, label: str, limit: Limit, default: int, key: str, *, param: str, **kw: Any
) -> int:
    """`cnnviz.ui.inputs.bounded`, starting from the URL's `param`."""
    value = _start(key, param, default, lambda t: parse_number(param, t, limit))
    result = bounded(column, label, limit, None if value is _FROM_STATE else value, key, **kw)
    keep(param, result, default)
    return result


def slider(
    column: Any, label: str, limit: Limit | Span, default: Any, key: str, *, param: str, **kw: Any
) -> Any:
    """A slider over the limit's range, starting from the URL's `param`."""
    bounds = limit.bounds
    if "help" in kw:
        bounds["help"] = f"{kw.pop('help')} {bounds['help']}"
    kw |= bounds
    value = _start(key, param, default, lambda t: parse_number(param, t, limit))
    if value is not _FROM_STATE:
        kw["value"] = value
    result = column.slider(label, key=key, **kw)
    keep(param, result, default)
    return result


def choice(
    widget: Callable[..., Any],
    label: str,
    options: Sequence[T],
    *,
    default: T,
    key: str,
    param: str,
    name: Callable[[Any], str] = encode,
    **kw: Any,
) -> T:
    """A radio or selectbox (`widget`, e.g. st.radio or col.selectbox) whose option is the
    URL's `param`, matched by `name(option)`."""
    options = list(options)
    value = _start(key, param, default, lambda t: parse_choice(param, t, options, name))
    if value is not _FROM_STATE:
        kw["index"] = options.index(value if value in options else default)
    result = widget(label, options, key=key, **kw)
    keep(param, result, default, name)
    return result


def choices(
    widget: Callable[..., Any],
    label: str,
    options: Sequence[T],
    *,
    default: Sequence[T],
    key: str,
    param: str,
    name: Callable[[Any], str] = encode,
    **kw: Any,
) -> list[T]:
    """A multiselect whose options are the URL's comma-separated `param`."""
    options, default = list(options), list(default)
    value = _start(key, param, default, lambda t: parse_choices(param, t, options, name))
    if value is not _FROM_STATE:
        kw["default"] = [o for o in value if o in options]
    result = list(widget(label, options, key=key, **kw))
    keep(param, result, default, lambda v: ",".join(name(o) for o in v))
    return result


def toggle(
    widget: Callable[..., Any], label: str, *, default: bool, key: str, param: str, **kw: Any
) -> bool:
    """A toggle or checkbox (`widget`) that is on when the URL's `param` is 1."""
    value = _start(key, param, default, lambda t: parse_flag(param, t))
    if value is not _FROM_STATE:
        kw["value"] = bool(value)
    result = bool(widget(label, key=key, **kw))
    keep(param, result, default)
    return result


def tabs(labels: Sequence[str], names: Sequence[str], *, key: str, param: str) -> Sequence[Any]:
    """st.tabs that open on the URL's `param` (a tab's short name, e.g. tab=table) and write
    the tab a student opens back to it (the first tab is the default)."""
    by_name = dict(zip(names, labels, strict=True))
    # The tabs' identity includes `default`: it must stay what the URL said when they opened.
    opening = st.session_state.setdefault("_presets_tabs", {})
    if _new(key) or key not in opening:
        opening[key] = read(param, None, lambda t: by_name[parse_choice(param, t, list(names))])
    default = opening[key]
    containers = st.tabs(list(labels), default=default, key=key, on_change="rerun")
    opened = st.session_state.get(key) or labels[0]
    keep(param, names[list(labels).index(opened)], names[0])
    return containers


def seed(key: str, param: str, default: T, parse: Callable[[str, str], T]) -> None:
    """Put the URL's `param` into st.session_state[key] (for a widget that takes its value
    from the session state, e.g. one a callback resets)."""
    value = read(param, default, lambda t: parse(param, t))
    st.session_state[key] = value


def unit(param: str, default: tuple[int, int], grid: tuple[int, int]) -> tuple[int, int]:
    """A unit (i, j) of a rows x cols feature map from the URL ("4,7")."""

    def parse(text: str) -> tuple[int, int]:
        i, j = parse_pair(param, text)
        rows, cols = grid
        if not (0 <= i < rows and 0 <= j < cols):
            raise BadPreset(
                f"The link's {param}={text!r} is outside the {rows}x{cols} feature map: the "
                "page shows its default."
            )
        return i, j

    return read(param, default, parse)


def share() -> None:
    """A "Copy link to this view" box in the sidebar: the page's URL with its parameters
    (not this tab's job keys), in a code box whose button copies it."""
    url = share_url(st.context.url, st.query_params.to_dict())
    tip = "This page as you see it now, as a link: the button at the right of the box copies it."
    link = st.sidebar.popover("Copy link to this view", icon=":material/link:", help=tip)
    link.code(url, language=None, wrap_lines=True)
