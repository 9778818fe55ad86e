"""Hyperparameter widgets built from a model class: defaults from ``get_params()``, help text and
choices from its numpy-style docstring (``name : {"a", "b"}`` lists the allowed values)."""
from __future__ import annotations

import inspect
import json
import re

import streamlit as st

from . import state

_CHOICES = re.compile(r"\{([^}]*)\}")


def param_docs(cls) -> dict[str, tuple[str, str]]:
    """Parameter name -> (type spec, description) from the class docstring's Parameters section."""
    lines = (inspect.getdoc(cls) or "").splitlines()

    def is_header(n: int) -> bool:
        return n + 1 < len(lines) and lines[n].strip() != "" and set(lines[n + 1].strip()) == {"-"}

    try:
        n = next(i for i in range(len(lines)) if lines[i].strip() == "Parameters" and is_header(i)) + 2
    except StopIteration:
        return {}
    out: dict[str, tuple[str, str]] = {}
    names: list[str] = []
    spec, desc = "", []
    while n < len(lines) and not is_header(n):
        line = lines[n]
        if line.strip() and not line.startswith(" "):
            for name in names:
                out[name] = (spec, " ".join(desc))
            head, _, spec = line.partition(" : ")
            names, spec, desc = [h.strip() for h in head.split(",")], spec.strip(), []
        elif line.strip():
            desc.append(line.strip())
        n += 1
    for name in names:
        out[name] = (spec, " ".join(desc))
    return out


def choices_of(spec: str) -> list | None:
    """Allowed values listed in braces in a type spec, e.g. {"count", "mean"} -> ["count", "mean"]."""
    match = _CHOICES.search(spec)
    if not match:
        return None
    values = []
    for part in match.group(1).split(","):
        part = part.strip()
        try:
            values.append(json.loads(part.replace("'", '"')))
        except json.JSONDecodeError:
            values.append(part.strip("\"'"))
    return values


def hyperparameter_widgets(cls, key_prefix: str, container=st) -> dict:
    """One widget per hyperparameter of ``cls``, prefilled with its defaults; returns the values.

    Each value is a synced value of :mod:`ui.state` under ``<key_prefix><name>`` (in the session
    and the URL), so each model keeps its own settings while another model or another page is
    shown, and a link can carry them; the widgets are only views of those values.
    """
    defaults = cls().get_params()
    docs = param_docs(cls)
    values = {}
    cols = container.columns(3)
    for n, (name, default) in enumerate(defaults.items()):
        spec, help_text = docs.get(name, ("", ""))
        help_text = (f"{spec}. {help_text}" if spec else help_text) or None
        col = cols[n % 3]
        key = f"{key_prefix}{name}"
        choices = choices_of(spec)
        if isinstance(default, bool):
            values[name] = state.checkbox(name, key, default, container=col, help=help_text)
        elif isinstance(default, str) and spec.startswith("bool or"):
            # e.g. use_bias : bool or "auto"
            options = [default, True, False]
            values[name] = state.selectbox(name, options, key, default, parse=_option_of(options),
                                           container=col, help=help_text,
                                           format_func=lambda v: v if isinstance(v, str) else str(v))
        elif choices and default in choices:
            values[name] = state.selectbox(name, choices, key, default, parse=_option_of(choices),
                                           container=col, help=help_text)
        elif isinstance(default, int):
            values[name] = int(_number(col, name, key, default, int, step=1, help=help_text))
        elif isinstance(default, float):
            values[name] = float(_number(col, name, key, default, float, step=_step(default),
                                         format="%g", help=help_text))
        else:
            # Tuples, lists, None and free text: edited as JSON (e.g. [128, 64]).
            text = state.get(key, json.dumps(default))
            wkey = state.seed_widget(key, text)
            text = col.text_input(name, key=wkey, help=help_text)
            state.put_quiet(key, text)
            values[name] = _parse_json(name, text, default)
    return values


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


def _step(default: float) -> float:
    if default == 0:
        return 0.01
    magnitude = 10 ** (len(str(int(abs(default)))) - 1) if abs(default) >= 1 else abs(default)
    return float(magnitude) / 10 if abs(default) >= 1 else float(magnitude)


def _parse_json(name: str, text: str, default):
    from recsys_core.errors import HyperparameterError

    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        if isinstance(default, str) or default is None:
            return text
        raise HyperparameterError(f"{name}: {text!r} is not a valid value (write it like "
                                  f"{json.dumps(default)})") from None
    if isinstance(default, tuple) and isinstance(value, list):
        return tuple(value)
    return value
