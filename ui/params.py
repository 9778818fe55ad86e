"""Hyperparameter widgets built from a model's typed specification (``cls.param_spec``, see
:mod:`recsys_core.models.params`): defaults from ``__init__``, help and allowed values from the
spec, one widget per entry chosen by its type.

* ``bool`` -> checkbox; ``choice`` -> select box; ``subset`` -> multiselect;
* a ``float`` bounded on both sides within [0, 1] (a share, a decay) -> slider over its range;
* other numbers -> number input, with a step of a tenth of the default's order of magnitude
  for entries on a log scale (so the arrows move 0.002 by 0.0001, 300 by 10) and no hard
  min/max: a value the spec refuses gets the spec's message when training starts;
* sequences (layer widths, column names) -> text, comma-separated ("128, 64").
"""
from __future__ import annotations

import inspect
import math

import streamlit as st

from recsys_core.validation import Param

from . import state


def _help(p: Param) -> str:
    text = f"{p.help} Allowed: {p.describe()}.".strip()
    if p.log:
        text += " On a log scale: try values a factor of 3 to 10 apart."
    return text


def widget_kind(p: Param) -> str:
    """Which widget draws a spec entry: "checkbox", "selectbox", "multiselect", "slider",
    "number_input", "text_input" or "" (not editable on the page, e.g. arrays)."""
    if p.kind == "bool":
        return "checkbox"
    if p.kind == "choice":
        return "selectbox"
    if p.kind == "subset":
        return "multiselect"
    if p.kind == "float" and not p.log and p.low is not None and p.high is not None \
            and 0 <= p.low < p.high <= 1:
        return "slider"
    if p.kind in ("int", "float"):
        return "number_input"
    if p.kind in ("int_list", "str_list"):
        return "text_input"
    return ""


def hyperparameter_widgets(cls, key_prefix: str, container=st) -> dict:
    """One widget per hyperparameter of ``cls``, prefilled with its defaults; returns the values.

    Each value is a synced value of :mod:`ui.state` under ``<key_prefix><name>`` (in the session
    and the URL), so each model keeps its own settings while another model or another page is
    shown, and a link can carry them; the widgets are only views of those values. Values are
    returned as typed; the model's ``validate_params`` (called by ``fit``) refuses bad ones.
    """
    defaults = {name: p.default for name, p in inspect.signature(cls).parameters.items()}
    values = {}
    cols = container.columns(3)
    shown = [name for name in defaults if widget_kind(cls.param_spec[name])]
    for n, name in enumerate(shown):
        p, default = cls.param_spec[name], defaults[name]
        values[name] = _widget(p, name, default, f"{key_prefix}{name}", cols[n % 3])
    return values


def label(name: str) -> str:
    """A hyperparameter's widget label: its name in words ("regularization exponent"), so that a
    narrow column wraps it between words, never inside one ("regularization_expo nent")."""
    return name.replace("_", " ")


def _widget(p: Param, name: str, default, key: str, col):
    kind, help_text = widget_kind(p), _help(p)
    shown = label(name)  # what the widget shows; values, keys and messages keep the name
    if shown != name:
        help_text = f"`{name}`: {help_text}"
    if kind == "checkbox":
        return state.checkbox(shown, key, bool(default), container=col, help=help_text)
    if kind == "selectbox":
        options = list(p.choices)
        return state.selectbox(shown, options, key, default, parse=_option_of(options),
                               container=col, help=help_text, format_func=str)
    if kind == "multiselect":
        return tuple(state.multiselect(shown, list(p.choices), key, list(default or ()),
                                       container=col, help=help_text))
    if kind == "slider":
        step = 0.01
        low = p.low + step if p.low_open else p.low
        high = p.high - step if p.high_open else p.high
        return float(state.slider(shown, key, float(default), min_value=float(low),
                                  max_value=float(high), step=step, container=col,
                                  help=help_text))
    if kind == "number_input":
        if p.kind == "int" and not isinstance(default, bool) and default is not None:
            return int(_number(col, shown, key, default, int, step=1, help=help_text))
        number = float(default) if default is not None else 0.0
        return float(_number(col, shown, key, number, float, step=_step(number, p.log),
                             format="%g", help=help_text))
    # text: comma-separated entries, parsed (and checked) by the spec
    text = state.get(key, p.to_text(default))
    wkey = state.seed_widget(key, text)
    text = col.text_input(shown, key=wkey, help=help_text + " Comma-separated.")
    state.put_quiet(key, text)
    return p.parse(name, text.strip().strip("[]()").replace('"', "").replace("'", ""))


def _number(col, label: str, key: str, default, kind, **kwargs):
    """A number input synced under ``key`` (a link with a value that is not a number is ignored)."""
    value = state.get(key, default, kind)
    try:
        value = kind(value)
    except (TypeError, ValueError):
        value = default
    wkey = state.seed_widget(key, value)
    chosen = col.number_input(label, key=wkey, **kwargs)
    state.put_quiet(key, chosen)
    return chosen


def _option_of(options: list):
    """Parser of a URL value back to the option it was written from (``str`` of the option)."""
    def parse(text: str):
        for option in options:
            if str(option) == text:
                return option
        raise ValueError(text)
    return parse


def _step(default: float, log: bool) -> float:
    """Arrow step of a number input: a tenth of the default's order of magnitude on a log
    scale (and for small numbers), else 0.1 of a unit-sized default."""
    if default == 0:
        return 0.01
    magnitude = 10.0 ** math.floor(math.log10(abs(default)))
    if log or abs(default) < 1:
        return magnitude / 10
    return magnitude / 10 if magnitude >= 10 else 0.1
