"""Checks of user-supplied values shared by every layer (foundation: imports only errors).

:func:`check_param` validates one hyperparameter; every estimator calls it in ``fit`` (or
``__init__``) so that a bad value ends in a :class:`~recsys_core.errors.HyperparameterError`
naming the parameter.
"""
from __future__ import annotations

import numpy as np

from .errors import HyperparameterError


def check_param(name: str, value, *, low=None, high=None, low_open=False, integer=False,
                choices=None):
    """Raise :class:`HyperparameterError` unless ``value`` fits; returns it for chaining."""
    if choices is not None:
        if value not in choices:
            raise HyperparameterError(f"{name} must be one of {', '.join(map(repr, choices))}, "
                                      f"got {value!r}")
        return value
    if integer and (isinstance(value, bool) or not isinstance(value, (int, np.integer))):
        raise HyperparameterError(f"{name} must be an integer, got {value!r}")
    if not integer and (isinstance(value, bool) or not isinstance(value, (int, float, np.number))):
        raise HyperparameterError(f"{name} must be a number, got {value!r}")
    if not np.isfinite(value):
        raise HyperparameterError(f"{name} must be finite, got {value!r}")
    if low is not None and (value <= low if low_open else value < low):
        raise HyperparameterError(f"{name} must be {'>' if low_open else '>='} {low}, got {value!r}")
    if high is not None and value > high:
        raise HyperparameterError(f"{name} must be <= {high}, got {value!r}")
    return value
