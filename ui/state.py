"""Widgets whose value lives in the session and in the URL query string.

A teacher can copy the address bar and send a link that opens the same view: each synced widget
reads its initial value from ``st.query_params`` and writes its current value back. The value is
also kept under a plain session key (not the widget key, which Streamlit forgets on pages that do
not draw the widget) so it survives moving between pages.
"""
from __future__ import annotations

from typing import Callable, Sequence

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

_WIDGET_PREFIX = "_w_"


_LAST_PAGE = "_state_last_page"  # session key: the page the previous script run drew
_ARRIVED = "_state_arrived"  # session key: True while this run is the first on a newly opened page


def note_page_run() -> None:
    """Record which page this script run draws (called once per run by the page header).

    Query parameters are read as a *link* only on the first run of a newly opened page (a shared
    URL, a lesson link); afterwards the widgets own the values. Reading them on every run would
    let a lagging URL, sent by the browser before it saw the latest update, undo a fast series
    of widget changes.
    """
    ctx = get_script_run_ctx()
    page = getattr(ctx, "page_script_hash", "") if ctx is not None else ""
    st.session_state[_ARRIVED] = st.session_state.get(_LAST_PAGE) != page
    st.session_state[_LAST_PAGE] = page


def _initial(key: str, default, parse: Callable[[str], object]):
    """The value to show: the URL's when the page was just opened (a shared link or a lesson
    link), else the widget's current value, the session's, and the default."""
    wkey = _WIDGET_PREFIX + key
    raw = st.query_params.get(key)
    if raw is not None and (st.session_state.get(_ARRIVED, False) or key not in st.session_state):
        try:
            return parse(raw)
        except (TypeError, ValueError):
            pass  # a hand-edited link with a bad value is ignored
    if wkey in st.session_state:
        return st.session_state[wkey]
    if key in st.session_state:
        return st.session_state[key]
    return default


def _publish(key: str, value, to_text: Callable[[object], str] = str) -> None:
    st.session_state[key] = value
    text = to_text(value)
    if st.query_params.get(key) != text:
        st.query_params[key] = text


def get(key: str, default=None, parse: Callable[[str], object] = str):
    """A synced value without drawing a widget (e.g. the dataset chosen on another page)."""
    return _initial(key, default, parse)


def put(key: str, value, to_text: Callable[[object], str] = str) -> None:
    """Set a synced value from code (e.g. after training a run, select it)."""
    _publish(key, value, to_text)
    wkey = _WIDGET_PREFIX + key
    if wkey in st.session_state:
        del st.session_state[wkey]


def put_quiet(key: str, value, to_text: Callable[[object], str] = str) -> None:
    """Record a value typed into a widget the caller draws itself (keeps the widget's state)."""
    _publish(key, value, to_text)


def seed_widget(key: str, value) -> str:
    """Seed the widget's own key with the synced value; returns the widget key.

    Assigned on the first run of a newly opened page (the same key on another page is another
    widget for Streamlit, which would otherwise start from its default) and whenever the value
    differs. Not otherwise: an assignment also pushes the value to the browser, which would undo
    a change the person made while this run was in flight.
    """
    wkey = _WIDGET_PREFIX + key
    if st.session_state.get(_ARRIVED, False) or wkey not in st.session_state \
            or st.session_state[wkey] != value:
        st.session_state[wkey] = value
    return wkey


def selectbox(label: str, options: Sequence, key: str, default=None, *, parse=str,
              to_text=str, container=st, **kwargs):
    """``st.selectbox`` synced under ``key``; an unknown stored value falls back to the default."""
    options = list(options)
    if not options:
        return None
    value = _initial(key, default, parse)
    if value not in options:
        value = default if default in options else options[0]
    wkey = seed_widget(key, value)
    chosen = container.selectbox(label, options, key=wkey, **kwargs)
    _publish(key, chosen, to_text)
    return chosen


def radio(label: str, options: Sequence, key: str, default=None, *, container=st, **kwargs):
    """``st.radio`` synced under ``key`` (string options)."""
    options = list(options)
    value = _initial(key, default, str)
    if value not in options:
        value = default if default in options else options[0]
    wkey = seed_widget(key, value)
    chosen = container.radio(label, options, key=wkey, **kwargs)
    _publish(key, chosen)
    return chosen


def slider(label: str, key: str, default, *, min_value, max_value, step=None, container=st,
           **kwargs):
    """``st.slider`` (one number) synced under ``key``; out-of-range links are clipped."""
    kind = float if isinstance(default, float) or isinstance(step, float) else int
    value = _initial(key, default, kind)
    try:
        value = kind(min(max(kind(value), min_value), max_value))
    except (TypeError, ValueError):
        value = default
    wkey = seed_widget(key, value)
    chosen = container.slider(label, min_value=min_value, max_value=max_value, step=step,
                              key=wkey, **kwargs)
    _publish(key, chosen)
    return chosen


def checkbox(label: str, key: str, default: bool = False, *, container=st, **kwargs) -> bool:
    """``st.checkbox`` synced under ``key`` ("1"/"0" in the URL)."""
    value = bool(_initial(key, default, lambda s: s in ("1", "true", "True")))
    wkey = seed_widget(key, value)
    chosen = container.checkbox(label, key=wkey, **kwargs)
    _publish(key, chosen, lambda v: "1" if v else "0")
    return chosen


def multiselect(label: str, options: Sequence, key: str, default=(), *, container=st, **kwargs):
    """``st.multiselect`` of strings synced under ``key`` (comma-joined in the URL)."""
    options = list(options)
    value = _initial(key, list(default), lambda s: [p for p in s.split(",") if p])
    value = [v for v in value if v in options]
    wkey = seed_widget(key, value)
    chosen = container.multiselect(label, options, key=wkey, **kwargs)
    _publish(key, list(chosen), lambda v: ",".join(v))
    return chosen
