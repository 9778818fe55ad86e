"""Search spaces of a sweep: one :class:`Dimension` per tuned hyperparameter.

A dimension is a numeric range (linear or log scale, integer or real) or a list of choices. Ranges
default to the model's ``param_spec`` (:func:`recsys_core.models.params.search_space`), and every
value is checked by the spec, so a sweep cannot ask a model for a value it refuses.

Two optional class attributes of a model refine the defaults (the command line's ``tune`` and the
Tune page both use them):

* ``default_search``: the names a sweep tunes when none are given (:func:`default_names`);
* ``tuning_range(name, params)``, a classmethod: the range of ``name`` given the model's other
  hyperparameters (``params``: its defaults updated by the sweep's fixed settings), or None for
  the spec's. WALS uses it because its regularization means different things per
  ``regularization_type``.
"""
from __future__ import annotations

import inspect
import math
from dataclasses import dataclass

import numpy as np

from ..errors import HyperparameterError
from ..models.params import search_space


@dataclass(frozen=True)
class Dimension:
    """One tuned hyperparameter.

    Attributes
    ----------
    name : str
    low, high : float or None
        Bounds of a numeric range (inclusive); None for choices.
    log : bool
        Draw and grid on a log scale (needs ``low > 0``).
    integer : bool
        Values are rounded to integers.
    choices : tuple or None
        The values of a list dimension (then low/high are None).
    """

    name: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    integer: bool = False
    choices: tuple | None = None

    def __post_init__(self):
        if self.choices is not None:
            if not self.choices:
                raise HyperparameterError(f"{self.name}: a list of choices needs at least one value")
            return
        if self.low is None or self.high is None or not self.low <= self.high:
            raise HyperparameterError(f"{self.name}: a range needs low <= high, got "
                                      f"{self.low}:{self.high}")
        if self.log and self.low <= 0:
            raise HyperparameterError(f"{self.name}: a log range needs low > 0, got {self.low}")

    # ------------------------------------------------------------------ values
    def _cast(self, value):
        return int(round(value)) if self.integer else float(value)

    def from_unit(self, u: float):
        """The value at position ``u`` in [0, 1] of the range (or of the list)."""
        if self.choices is not None:
            return self.choices[min(int(u * len(self.choices)), len(self.choices) - 1)]
        if self.log:
            value = math.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low)))
        else:
            value = self.low + u * (self.high - self.low)
        return self._cast(min(max(value, self.low), self.high))

    def grid(self, n: int) -> list:
        """``n`` evenly spaced values (on the log scale when ``log``), duplicates removed; every
        choice of a list dimension."""
        if self.choices is not None:
            return list(self.choices)
        if n <= 1 or self.low == self.high:
            return [self._cast(self.low if n <= 1 and self.low == self.high
                               else (self.low + self.high) / 2 if not self.log
                               else math.sqrt(self.low * self.high))]
        points = (np.geomspace(self.low, self.high, n) if self.log
                  else np.linspace(self.low, self.high, n))
        out = []
        for p in points:
            v = self._cast(p)
            if v not in out:
                out.append(v)
        return out

    def optuna_distribution(self):
        import optuna

        if self.choices is not None:
            return optuna.distributions.CategoricalDistribution(list(self.choices))
        if self.integer:
            return optuna.distributions.IntDistribution(int(self.low), int(self.high), log=self.log)
        return optuna.distributions.FloatDistribution(float(self.low), float(self.high),
                                                      log=self.log)

    def to_json(self) -> dict:
        return {"name": self.name, "low": self.low, "high": self.high, "log": self.log,
                "integer": self.integer,
                "choices": None if self.choices is None else list(self.choices)}

    @classmethod
    def from_json(cls, data: dict) -> "Dimension":
        choices = data.get("choices")
        return cls(data["name"], data.get("low"), data.get("high"), bool(data.get("log")),
                   bool(data.get("integer")), None if choices is None else tuple(choices))

    def describe(self) -> str:
        if self.choices is not None:
            return f"{self.name} in {{{', '.join(map(str, self.choices))}}}"
        return f"{self.name} in [{self.low:g}, {self.high:g}]" + (" (log)" if self.log else "")


def default_dimension(model_class, name: str, fixed_params: dict | None = None) -> Dimension:
    """The dimension of hyperparameter ``name`` from the model's ``param_spec`` (its tuning
    range, log scale and type), or from the model's ``tuning_range`` given its other settings
    (its defaults updated by ``fixed_params``); :class:`HyperparameterError` when it is not
    tunable."""
    space = search_space(model_class)
    if name not in space:
        tunable = ", ".join(space) or "none"
        raise HyperparameterError(f"{model_class.kind} has no tunable hyperparameter {name!r}; "
                                  f"tunable: {tunable}")
    entry = space[name]
    if entry["kind"] == "choice":
        return Dimension(name, choices=tuple(entry["choices"]))
    low, high = entry["low"], entry["high"]
    hook = getattr(model_class, "tuning_range", None)
    if hook is not None:
        defaults = {n: p.default for n, p in inspect.signature(model_class).parameters.items()
                    if p.default is not inspect.Parameter.empty}
        low, high = hook(name, {**defaults, **(fixed_params or {})}) or (low, high)
    return Dimension(name, float(low), float(high), log=bool(entry["log"]) and low > 0,
                     integer=entry["kind"] == "int")


def tunable_names(model_class) -> list[str]:
    """Hyperparameters of the model a sweep can tune, in the spec's order."""
    return list(search_space(model_class))


def default_names(model_class) -> list[str]:
    """The hyperparameters a sweep tunes when none are named: the model's ``default_search``,
    else its regularization and unobserved weight (those it has), else its first tunable one."""
    names = tunable_names(model_class)
    chosen = [n for n in getattr(model_class, "default_search", ()) if n in names]
    return (chosen or [n for n in ("regularization", "unobserved_weight") if n in names]
            or names[:1])[:3]


def default_dimensions(model_class, fixed_params: dict | None = None) -> list[Dimension]:
    """The dimensions of :func:`default_names`, with :func:`default_dimension`'s ranges."""
    return [default_dimension(model_class, n, fixed_params) for n in default_names(model_class)]


def parse_dimension(model_class, text: str, fixed_params: dict | None = None) -> Dimension:
    """A dimension from command-line text: ``name`` (the default range, given the sweep's
    ``fixed_params``: :func:`default_dimension`),
    ``name=low:high`` or ``name=low:high:log`` (a range), or ``name=a,b,c`` (choices).

    Every bound and choice is parsed and checked by the model's ``param_spec``.
    """
    name, sep, raw = text.partition("=")
    name, raw = name.strip(), raw.strip()
    spec = model_class.param_spec
    if name not in spec:
        raise HyperparameterError(f"{model_class.kind} has no hyperparameter {name!r}; valid "
                                  f"names: {', '.join(spec)}")
    if not sep or not raw:
        return default_dimension(model_class, name, fixed_params)
    param = spec[name]

    def parse(value: str):
        try:
            return param.parse(name, value.strip())
        except HyperparameterError as exc:
            raise HyperparameterError(f"--param {text}: {exc}") from None

    if ":" in raw:
        parts = raw.split(":")
        if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2].strip() not in ("log", "lin",
                                                                                     "linear")):
            raise HyperparameterError(f"--param expects name=low:high[:log], got {text!r}")
        if param.kind not in ("int", "float"):
            raise HyperparameterError(f"{name} is not a number: give a list of choices "
                                      f"({name}=a,b,c)")
        low, high = parse(parts[0]), parse(parts[1])
        log = len(parts) == 3 and parts[2].strip() == "log"
        return Dimension(name, float(low), float(high), log=log, integer=param.kind == "int")
    return Dimension(name, choices=tuple(parse(v) for v in raw.split(",") if v.strip()))


def check_dimensions(model_class, dimensions) -> tuple[Dimension, ...]:
    """The dimensions, checked: 1 to 3, distinct names, every value allowed by the spec."""
    dimensions = tuple(dimensions)
    if not 1 <= len(dimensions) <= 3:
        raise HyperparameterError(f"a sweep tunes 1 to 3 hyperparameters, got {len(dimensions)}")
    names = [d.name for d in dimensions]
    if len(set(names)) != len(names):
        raise HyperparameterError(f"each hyperparameter may be tuned once, got {names}")
    for d in dimensions:
        param = model_class.param_spec.get(d.name)
        if param is None:
            raise HyperparameterError(f"{model_class.kind} has no hyperparameter {d.name!r}")
        values = d.choices if d.choices is not None else (d.from_unit(0.0), d.from_unit(1.0))
        for v in values:
            param.validate(d.name, v)
    return dimensions
