"""Values that live in the session and in the URL; widgets are only views of them.

A teacher can copy the address bar and send a link that opens the same view: each synced value
is read from ``st.query_params`` when a page is opened and written back whenever it changes.

The state model
---------------
- A value lives under a plain session key (``key``), which Streamlit never removes, and in the
  URL (``?key=text``). Streamlit's own widget state, kept under ``_w_<key>``, is only a view.
- A widget the person changes changes the value (recorded by the widget's ``on_change``, before
  the script reruns, so code that does not draw the widget sees it too: :func:`value`). Nothing
  else does, except code calling :func:`put` (e.g. select a run just trained) and a link opened
  on a page.
- Hiding a widget never changes the value. Streamlit forgets a widget's state when a run did not
  draw it, and when a run stops early (``st.stop()`` before the widget, an error path) the
  server keeps the state while the *browser* drops it: drawn again, the browser shows the
  widget's minimum while the server still computes with the old value, and the browser sends
  the minimum back on the next interaction. So a widget that the previous script run did not
  draw is re-seeded from the value (which also sends it to the browser). Otherwise it is not
  touched: re-seeding a drawn widget would undo key presses made while a run was in flight.
  "Previous run" counts runs of the code that draws the widget (the script, or its fragment).
- A link's value that is not a number, not finite, out of range or not an option falls back to
  the default, with a small note under the widget (or a toast).
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

_WIDGET_PREFIX = "_w_"

_LAST_PAGE = "_state_last_page"  # session key: the page the previous full script run drew
_ARRIVED = "_state_arrived"  # session key: True while this run is the first on a newly opened page
_RUN_MARK = "_state_run_mark"  # session key: {scope: an object unique to its current run}
_RUN_NO = "_state_run_no"  # session key: {scope: number of runs of the scope so far}
_DRAWN = "_state_drawn"  # session key: {value key: (scope, run number) that last drew it}
_PENDING = "_state_pending"  # session key: values set by put() whose widget must be re-seeded


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


def _in_fragment_run() -> bool:
    ctx = get_script_run_ctx()
    return bool(getattr(ctx, "fragment_ids_this_run", None))


def _arrived() -> bool:
    """True on the first full run of a newly opened page (never in a fragment's rerun)."""
    return st.session_state.get(_ARRIVED, False) and not _in_fragment_run()


def _scope_generation() -> tuple[str, int]:
    """(scope, n): the code that is running (a fragment's id, or "" for the whole script) and
    how many times that scope has started to run in this session.

    A widget is forgotten by the browser only when a run of the scope that draws it ends
    without drawing it; runs of other fragments (e.g. a poller) leave it alone. Streamlit
    creates a new coordinator object for each script or fragment run; holding the last one seen
    per scope tells a new run from the current one without a hook at the start of every run.
    """
    ctx = get_script_run_ctx()
    mark = getattr(ctx, "parallel_coordinator", None) if ctx is not None else None
    if mark is None:  # no run context (bare import) or another Streamlit: count every call
        mark = object()
    try:
        from streamlit.runtime.scriptrunner_utils.script_run_context import ThreadState

        scope = ThreadState.get().fragment_id or ""
    except (ImportError, AttributeError):
        scope = ""
    marks = st.session_state.setdefault(_RUN_MARK, {})
    generations = st.session_state.setdefault(_RUN_NO, {})
    if marks.get(scope) is not mark:
        marks[scope] = mark
        generations[scope] = generations.get(scope, 0) + 1
    return scope, generations[scope]


def _note(container, text: str) -> None:
    """A small note about a link value that was not used."""
    if container is None:
        st.toast(text)
    else:
        container.caption(text)


class _Rejected(ValueError):
    """A link's value that cannot be used; the message says why."""


def _parse_link(key: str, raw: str, parse: Callable[[str], object]):
    value = parse(raw)
    if isinstance(value, float) and not math.isfinite(value):
        raise _Rejected("not a finite number")
    return value


def _resolve(key: str, default, parse: Callable[[str], object],
             check: Callable[[object], str | None] | None = None):
    """(value to show, note or None): the URL's value when the page was just opened (a shared
    link or a lesson link) or the value was never set, else the widget's, the session's, and the
    default. ``check`` returns why a link's value is unusable (None when it is fine)."""
    wkey = _WIDGET_PREFIX + key
    raw = st.query_params.get(key)
    if raw is not None and (_arrived() or key not in st.session_state):
        try:
            value = _parse_link(key, raw, parse)
            why = check(value) if check is not None else None
        except (TypeError, ValueError) as exc:
            why = str(exc) if isinstance(exc, _Rejected) else "not understood"
        if why is None:
            return value, None
        return default, f"The link's {key}={raw!r} is {why}; using {_text(default)} instead."
    if key in st.session_state.get(_PENDING, ()):
        return st.session_state[key], None
    if wkey in st.session_state:
        return st.session_state[wkey], None
    if key in st.session_state:
        return st.session_state[key], None
    return default, None


def _text(value) -> str:
    if isinstance(value, (list, tuple)):
        return ",".join(map(str, value)) or "nothing"
    return str(value)


def _initial(key: str, default, parse: Callable[[str], object]):
    """The value to show (see :func:`_resolve`); a bad link value is dropped without a note."""
    return _resolve(key, default, parse)[0]


def _publish(key: str, value, to_text: Callable[[object], str] = str) -> None:
    st.session_state[key] = value
    text = to_text(value)
    if st.query_params.get(key) != text:
        st.query_params[key] = text


def get(key: str, default=None, parse: Callable[[str], object] = str, *, container=None):
    """A synced value without drawing a widget (e.g. the dataset chosen on another page).

    A link's value that ``parse`` rejects or that is not finite gives ``default`` and a note
    (a caption in ``container``, else a toast).
    """
    value, note = _resolve(key, default, parse)
    if note:
        _note(container, note)
    return value


def put(key: str, value, to_text: Callable[[object], str] = str) -> None:
    """Set a synced value from code (e.g. after training a run, select it); its widget shows
    the new value the next time it is drawn."""
    _publish(key, value, to_text)
    st.session_state[_PENDING] = st.session_state.get(_PENDING, set()) | {key}


def put_quiet(key: str, value, to_text: Callable[[object], str] = str) -> None:
    """Record a value typed into a widget the caller draws itself (keeps the widget's state)."""
    _publish(key, value, to_text)


def seed_widget(key: str, value) -> str:
    """Make the widget key of ``key`` show ``value``; returns the widget key to draw with.

    The widget state is (re)assigned when the page was just opened, when code changed the value
    (:func:`put`), when the widget has no state, when the previous script run did not draw it
    (hidden by an early ``st.stop()``, an error path, another mode or page: the browser has
    forgotten it) and when it differs from ``value``. Not otherwise: an assignment also pushes
    the value to the browser, which would undo a change the person made while this run was in
    flight. Call it on every run that draws the widget, right before drawing it.
    """
    wkey = _WIDGET_PREFIX + key
    scope, run = _scope_generation()
    drawn = st.session_state.setdefault(_DRAWN, {})
    pending = st.session_state.get(_PENDING, set())
    stale = drawn.get(key) not in ((scope, run), (scope, run - 1))
    if (_arrived() or key in pending or stale or wkey not in st.session_state
            or st.session_state[wkey] != value):
        st.session_state[wkey] = value
    if key in pending:
        st.session_state[_PENDING] = pending - {key}
    drawn[key] = (scope, run)
    return wkey


def _committing(key: str, to_text: Callable[[object], str], kwargs: dict) -> dict:
    """``kwargs`` with an ``on_change`` that first records the widget's new value under ``key``
    (session and URL), then calls the caller's own ``on_change`` (if any).

    So the value is current even in a run that does not draw the widget (a fragment's rerun
    triggered from the callback with ``st.rerun("<fragment key>")``).
    """
    user_callback = kwargs.pop("on_change", None)
    args, kw = kwargs.pop("args", None) or (), kwargs.pop("kwargs", None) or {}
    wkey = _WIDGET_PREFIX + key

    def commit():
        if wkey in st.session_state:
            _publish(key, st.session_state[wkey], to_text)
        if user_callback is not None:
            user_callback(*args, **kw)

    return {**kwargs, "on_change": commit}


def value(key: str, default=None):
    """The current value of a synced key, without drawing its widget (e.g. in a fragment that
    the widget's callback reruns); ``default`` when it was never set."""
    return st.session_state.get(key, default)


def _options_check(options: Sequence):
    return lambda v: None if v in options else "not one of the choices"


def selectbox(label: str, options: Sequence, key: str, default=None, *, parse=str,
              to_text=str, container=st, **kwargs):
    """``st.selectbox`` synced under ``key``; an unknown stored value falls back to the default."""
    options = list(options)
    if not options:
        return None
    default = default if default in options else options[0]
    value, note = _resolve(key, default, parse, _options_check(options))
    if value not in options:
        value = default
    wkey = seed_widget(key, value)
    chosen = container.selectbox(label, options, key=wkey,
                                 **_committing(key, to_text, kwargs))
    if note:
        _note(container, note)
    _publish(key, chosen, to_text)
    return chosen


def radio(label: str, options: Sequence, key: str, default=None, *, container=st, **kwargs):
    """``st.radio`` synced under ``key`` (string options)."""
    options = list(options)
    default = default if default in options else options[0]
    value, note = _resolve(key, default, str, _options_check(options))
    if value not in options:
        value = default
    wkey = seed_widget(key, value)
    chosen = container.radio(label, options, key=wkey, **_committing(key, str, kwargs))
    if note:
        _note(container, note)
    _publish(key, chosen)
    return chosen


def _number_kind(default, step):
    return float if isinstance(default, float) or isinstance(step, float) else int


def _parse_int(text: str) -> int:
    """An int from a link; "3.0" is accepted, "3.5" is not."""
    number = float(text)
    if not math.isfinite(number):
        raise _Rejected("not a finite number")
    if number != int(number):
        raise _Rejected("not a whole number")
    return int(number)


def slider(label: str, key: str, default, *, min_value, max_value, step=None, container=st,
           **kwargs):
    """``st.slider`` (one number) synced under ``key``; a link's value that is not a number or
    is out of range falls back to the default, with a note."""
    kind = _number_kind(default, step)

    def in_range(v):
        return None if min_value <= v <= max_value else (
            f"outside {_text(min_value)}..{_text(max_value)}")

    value, note = _resolve(key, default, float if kind is float else _parse_int, in_range)
    try:
        value = kind(value)
        if not (math.isfinite(value) and min_value <= value <= max_value):
            value = kind(default)
    except (TypeError, ValueError):
        value = kind(default)
    wkey = seed_widget(key, value)
    chosen = container.slider(label, min_value=min_value, max_value=max_value, step=step,
                              key=wkey, **_committing(key, str, kwargs))
    if note:
        _note(container, note)
    _publish(key, chosen)
    return chosen


def _parse_bool(text: str) -> bool:
    if text in ("1", "true", "True"):
        return True
    if text in ("0", "false", "False"):
        return False
    raise _Rejected("not 1 or 0")


def checkbox(label: str, key: str, default: bool = False, *, container=st, **kwargs) -> bool:
    """``st.checkbox`` synced under ``key`` ("1"/"0" in the URL)."""
    value, note = _resolve(key, default, _parse_bool)
    wkey = seed_widget(key, bool(value))
    chosen = container.checkbox(label, key=wkey,
                                **_committing(key, lambda v: "1" if v else "0", kwargs))
    if note:
        _note(container, note)
    _publish(key, chosen, lambda v: "1" if v else "0")
    return chosen


def multiselect(label: str, options: Sequence, key: str, default=(), *, container=st, **kwargs):
    """``st.multiselect`` of strings synced under ``key`` (comma-joined in the URL)."""
    options = list(options)

    def known(v):
        unknown = [x for x in v if x not in options]
        if not unknown:
            return None
        return (f"not usable here: {', '.join(unknown)} "
                f"{'is' if len(unknown) == 1 else 'are'} not among the choices")

    value, note = _resolve(key, list(default), lambda s: [p for p in s.split(",") if p], known)
    value = [v for v in value if v in options]
    wkey = seed_widget(key, value)
    chosen = container.multiselect(label, options, key=wkey,
                                   **_committing(key, lambda v: ",".join(v), kwargs))
    if note:
        _note(container, note)
    _publish(key, list(chosen), lambda v: ",".join(v))
    return chosen
