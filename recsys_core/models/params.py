"""Typed hyperparameter specifications: each model describes its ``__init__`` arguments once.

The entries are :class:`~recsys_core.validation.Param` values (foundation: the same checks
serve every function argument through :func:`~recsys_core.validation.check_param`); this module
holds what is about models: checking a model's values, ``--help`` lines, docstrings, tuning.

A model's ``param_spec`` (a class attribute, ``{name: Param}``) is the one description of its
hyperparameters. It drives

* validation: :meth:`Recommender.validate_params` checks every value against its entry (type,
  range with open or closed ends, choices) and raises a
  :class:`~recsys_core.errors.HyperparameterError` worded by :meth:`Param.describe`;
* the command line: ``train --set name=value`` parses text with :meth:`Param.parse`, and
  ``train --help`` lists every entry (:func:`spec_lines`);
* the Train page: ``ui/params.py`` draws one widget per entry (a checkbox for ``bool``, a select
  box for ``choice``, a log slider where ``log`` is set, a number input otherwise) with ``help``;
* the class docstring: its "Parameters" section is rendered from the spec
  (:func:`render_parameters_doc`), so allowed values are never written twice;
* the memory budget: entries flagged ``size`` are the model's ``size_parameters``;
* tuning: :func:`search_space` gives each tunable entry's range, log scale or choices.

The models stay in the scikit-learn style: ``__init__`` takes explicit keyword arguments (their
defaults live there, not in the spec) and stores them unchanged; ``get_params``/``set_params``
work as before.

Example (``from recsys_core.validation import Param``)::

    param_spec = {
        "factors": Param("int", "Embedding dimension d.", low=1, high=4096, size=True, log=True),
        "loss": Param("choice", "What the model minimises.", choices=("full", "sampled")),
    }
"""
from __future__ import annotations

import inspect
import textwrap

from ..validation import Param


def validate_params(spec: dict[str, Param], values: dict) -> dict:
    """Check every value that has a spec entry; return ``values``."""
    for name, value in values.items():
        if name in spec:
            spec[name].validate(name, value)
    return values


def search_space(model_class) -> dict[str, dict]:
    """The tunable hyperparameters of a model class and where a tuner should look.

    Returns ``{name: {"kind", "low", "high", "log"}}`` for numbers (``tune`` overrides the
    bounds; an entry with an unbounded side and no ``tune`` is left out) and
    ``{name: {"kind": "choice", "choices"}}`` for choices and booleans. Entries with ``tune=()``
    (seeds, output switches), sequences and arrays are left out.
    """
    space = {}
    for name, p in model_class.param_spec.items():
        if p.tune == ():
            continue
        if p.kind in ("int", "float"):
            low, high = p.tune if p.tune else (p.low, p.high)
            if low is None or high is None:
                continue
            space[name] = {"kind": p.kind, "low": low, "high": high, "log": p.log}
        elif p.kind in ("choice", "bool"):
            space[name] = {"kind": "choice",
                           "choices": tuple(p.choices) if p.kind == "choice" else (False, True)}
    return space


def spec_lines(model_class, width: int = 88) -> list[str]:
    """One line per hyperparameter, ``name=default  allowed values. help``, for ``--help``."""
    defaults = {n: p.default for n, p in inspect.signature(model_class).parameters.items()}
    lines = []
    for name, p in model_class.param_spec.items():
        default = defaults.get(name)
        lines.append(f"{name}={p.to_text(default)}  ({p.describe()}) {p.help}".rstrip())
    return lines


def render_parameters_doc(spec: dict[str, Param]) -> str:
    """The numpy-style "Parameters" section of a docstring, rendered from the spec."""
    lines = ["Parameters", "----------"]
    for name, p in spec.items():
        lines.append(f"{name} : {p.describe()}")
        lines += textwrap.wrap(p.help, width=88, initial_indent="    ", subsequent_indent="    ")
    return "\n".join(lines)
