"""Checks of user-supplied values shared by every layer (foundation: imports only errors).

:class:`Param` describes one allowed value (type, range with open or closed ends, choices, help);
its :meth:`~Param.validate` raises a :class:`~recsys_core.errors.HyperparameterError` naming the
value and what is allowed, and :meth:`~Param.parse` reads it from text (the command line).
Every model describes its hyperparameters with them (``Recommender.param_spec``, see
:mod:`recsys_core.models.params`); :func:`check_param` applies the same check to one function
argument in the other layers (metrics, splits, projections, re-ranking).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np

from .errors import HyperparameterError


def check_param(name: str, value, *, low=None, high=None, low_open=False, integer=False,
                choices=None):
    """Raise :class:`HyperparameterError` unless ``value`` fits; returns it for chaining.

    A one-off :class:`Param`: ``choices`` (any values compared with ==), else an integer
    (``integer``) or a number within ``low``/``high`` (``low_open`` excludes ``low``).
    """
    if choices is not None:
        if value not in choices:
            raise HyperparameterError(f"{name} must be one of {', '.join(map(repr, choices))}, "
                                      f"got {value!r}")
        return value
    return Param("int" if integer else "float", "", low=low, high=high,
                 low_open=low_open).validate(name, value)


#: Kinds of value a :class:`Param` describes.
KINDS = ("int", "float", "bool", "choice", "int_list", "subset", "str_list", "array")
_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")


@dataclass(frozen=True)
class Param:
    """One hyperparameter: its type, allowed values and help text.

    Attributes
    ----------
    kind : str
        ``"int"``, ``"float"``, ``"bool"``; ``"choice"`` (one of ``choices``, which may mix text
        and booleans, as ``use_bias``'s True/False/"auto"); ``"int_list"`` (a sequence of
        integers, each within low/high, e.g. layer widths); ``"subset"`` (a sequence of entries of
        ``choices``); ``"str_list"`` (a sequence of free text, e.g. column names);
        ``"array"`` (a NumPy array, not set from the command line or the page).
    help : str
        One or two sentences for the page's tooltip, ``--help`` and the docstring.
    low, high : float or None
        Bounds of a number (of each entry for ``int_list``); None = unbounded on that side.
    low_open, high_open : bool
        Whether ``low`` / ``high`` themselves are excluded.
    choices : tuple
        Allowed values of ``choice`` and ``subset``.
    log : bool
        Spread on a log scale (the page's slider, the tuner's draws): learning rates,
        regularization strengths, sizes.
    size : bool
        The value sets the memory of a fit (named when the memory budget refuses one).
    optional : bool
        None is also allowed (e.g. ``patience=None`` switches early stopping off).
    min_length : int
        Fewest entries of a sequence (``subset`` of inputs needs at least one).
    tune : tuple (low, high) or None
        Range a tuner searches when it differs from (low, high), e.g. when ``high`` is open-ended;
        ``tune=()`` marks an entry as not worth tuning (seeds, switches of the output format).
    """

    kind: str
    help: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple = ()
    log: bool = False
    size: bool = False
    optional: bool = False
    min_length: int = 0
    tune: tuple | None = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"Param kind must be one of {KINDS}, got {self.kind!r}")
        if self.kind in ("choice", "subset") and not self.choices:
            raise ValueError(f"a {self.kind} Param needs choices")

    # ------------------------------------------------------------------ wording
    def range_text(self) -> str:
        """The allowed numbers, e.g. ``">= 1"``, ``"in (0, 1]"``, ``""`` when unbounded."""
        if self.low is not None and self.high is not None:
            return (f"in {'(' if self.low_open else '['}{_num(self.low)}, "
                    f"{_num(self.high)}{')' if self.high_open else ']'}")
        if self.low is not None:
            return f"{'>' if self.low_open else '>='} {_num(self.low)}"
        if self.high is not None:
            return f"{'<' if self.high_open else '<='} {_num(self.high)}"
        return ""

    def describe(self) -> str:
        """What a valid value is, in words ("an integer >= 1", "one of 'sgd', 'adam'", ...)."""
        bounds = self.range_text()
        if self.kind == "int":
            text = "an integer" + (f" {bounds}" if bounds else "")
        elif self.kind == "float":
            text = "a number" + (f" {bounds}" if bounds else "")
        elif self.kind == "bool":
            text = "True or False"
        elif self.kind == "choice":
            text = "one of " + ", ".join(map(repr, self.choices))
        elif self.kind == "int_list":
            text = "a list of integers" + (f" {bounds}" if bounds else "")
        elif self.kind == "subset":
            text = (f"a list of {'at least one of' if self.min_length else 'any of'} "
                    + ", ".join(map(repr, self.choices)))
        elif self.kind == "str_list":
            text = "a list of names"
        else:
            text = "an array"
        return text + (" or None" if self.optional else "")

    # ------------------------------------------------------------------ checking
    def validate(self, name: str, value):
        """Return ``value`` when it is allowed, else raise :class:`HyperparameterError` saying
        ``"<name> must be <describe()>, got <value>"``."""
        if value is None and self.optional:
            return value
        if not self._fits(value):
            raise HyperparameterError(f"{name} must be {self.describe()}, got {value!r}")
        return value

    def _fits(self, value) -> bool:
        kind = self.kind
        if kind == "int":
            return _is_int(value) and self._in_range(value)
        if kind == "float":
            return _is_number(value) and self._in_range(value)
        if kind == "bool":
            return isinstance(value, (bool, np.bool_)) or (_is_int(value) and value in (0, 1))
        if kind == "choice":
            return any(_same(value, c) for c in self.choices)
        if kind == "array":
            return value is None or np.ndim(value) == 2
        if isinstance(value, (str, bytes)) or not _is_sequence(value):
            return False
        entries = list(value)
        if len(entries) < self.min_length:
            return False
        if kind == "int_list":
            return all(_is_int(v) and self._in_range(v) for v in entries)
        if kind == "subset":
            return all(isinstance(v, str) and v in self.choices for v in entries)
        return all(isinstance(v, str) for v in entries)  # str_list

    def _in_range(self, value) -> bool:
        if not math.isfinite(float(value)):
            return False
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        if self.high is not None and (value >= self.high if self.high_open else value > self.high):
            return False
        return True

    # ------------------------------------------------------------------ text input
    def parse(self, name: str, text: str):
        """The value written as ``text`` (the command line's ``--set name=text``), checked.

        Booleans accept true/false/yes/no/on/off/1/0; ``none`` gives None where allowed;
        sequences are comma-separated (an empty text is an empty sequence). Raises
        :class:`HyperparameterError` naming the allowed values when the text is not one.
        """
        raw = text.strip()
        if self.optional and raw.lower() in ("none", "null"):
            return None
        try:
            value = self._convert(raw)
        except ValueError:
            expected = {"int": "an int", "float": "a float", "bool": "a bool"}.get(self.kind)
            raise HyperparameterError(f"{name} must be {self.describe()}, got {raw!r}"
                                      + (f" (expected {expected})" if expected else "")) from None
        return self.validate(name, value)

    def _convert(self, raw: str):
        kind = self.kind
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind == "bool":
            return _boolean(raw)
        if kind == "choice":
            for choice in self.choices:
                if str(choice).lower() == raw.lower():
                    return choice
            raise ValueError(raw)
        if kind == "array":
            raise ValueError(raw)
        parts = [p.strip() for p in raw.split(",") if p.strip()]
        if kind == "int_list":
            return tuple(int(p) for p in parts)
        return tuple(parts)

    def to_text(self, value) -> str:
        """``value`` written the way :meth:`parse` reads it (for ``--help`` and links)."""
        if value is None:
            return "none"
        if self.kind in ("int_list", "subset", "str_list"):
            return ",".join(str(v) for v in value)
        if isinstance(value, (bool, np.bool_)):
            return "true" if value else "false"
        return json.dumps(value) if isinstance(value, float) else str(value)


# ---------------------------------------------------------------------------- helpers
def _num(x) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _is_number(value) -> bool:
    return (isinstance(value, (int, float, np.integer, np.floating))
            and not isinstance(value, (bool, np.bool_)))


def _is_sequence(value) -> bool:
    return isinstance(value, (list, tuple, np.ndarray))


def _same(value, choice) -> bool:
    """Equality that keeps True apart from 1 and "auto" apart from everything else."""
    if isinstance(choice, bool) or isinstance(value, (bool, np.bool_)):
        return isinstance(value, (bool, np.bool_)) and isinstance(choice, bool) and \
            bool(value) == choice
    try:
        return bool(value == choice)
    except Exception:  # an array compared with text
        return False


def _boolean(raw: str) -> bool:
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise ValueError(raw)
