"""The typed hyperparameter specification of every model (recsys_core.models.params).

Each model's ``param_spec`` must describe exactly its ``__init__`` arguments, accept its defaults,
refuse an out-of-range value with the spec's own wording, give the tuner finite ranges and
render the docstring's Parameters section.
"""
import inspect

import numpy as np
import pytest

from recsys_core.errors import HyperparameterError
from recsys_core.models import MODEL_REGISTRY
from recsys_core.models.params import search_space, spec_lines
from recsys_core.validation import Param, check_param

ENGINE_MODELS = {kind: cls for kind, cls in MODEL_REGISTRY.items()
                 if cls.__module__.startswith("recsys_core.")}


def _init_defaults(cls) -> dict:
    return {name: p.default for name, p in inspect.signature(cls).parameters.items()}


def _out_of_range(p: Param):
    """A value the spec refuses, or None when every value of its type is allowed."""
    if p.kind in ("int", "float", "int_list"):
        step = 1 if p.kind != "float" else 0.5
        if p.low is not None:
            bad = p.low if p.low_open else p.low - step
        elif p.high is not None:
            bad = p.high + step
        else:
            return None
        return (int(bad),) if p.kind == "int_list" else (int(bad) if p.kind == "int" else bad)
    if p.kind == "choice":
        return "no-such-option"
    if p.kind == "subset":
        return ("no-such-input",)
    if p.kind == "bool":
        return "yes"
    if p.kind == "str_list":
        return "age"  # one name, not a list of names
    return None


def test_every_engine_model_kind_is_checked():
    assert set(ENGINE_MODELS) >= {"popularity", "ease", "svd", "content", "mf", "wals",
                                  "softmax", "two-tower", "precomputed"}


@pytest.mark.parametrize("kind", sorted(ENGINE_MODELS))
def test_param_spec_contract_entries_match_init(kind):
    cls = ENGINE_MODELS[kind]
    assert set(cls.param_spec) == set(_init_defaults(cls)), kind
    # the size flags are the memory budget's size parameters
    assert set(cls.size_parameters) == {n for n, p in cls.param_spec.items() if p.size}
    # the docstring's Parameters section is rendered from the spec, once
    doc = inspect.getdoc(cls)
    assert doc.count("\nParameters\n----------\n") == 1
    for name, p in cls.param_spec.items():
        assert f"\n{name} : {p.describe()}\n" in doc, name


@pytest.mark.parametrize("kind", sorted(ENGINE_MODELS))
def test_param_spec_contract_defaults_valid_and_bad_values_refused(kind):
    cls = ENGINE_MODELS[kind]
    model = cls()
    assert model.validate_params() is model
    for name, p in cls.param_spec.items():
        bad = _out_of_range(p)
        if bad is None:
            continue
        with pytest.raises(HyperparameterError) as info:
            cls(**{name: bad}).validate_params()
        assert str(info.value) == f"{name} must be {p.describe()}, got {bad!r}"


@pytest.mark.parametrize("kind", sorted(ENGINE_MODELS))
def test_param_spec_contract_fit_refuses_a_bad_value(kind):
    """fit validates through the spec before it touches the data."""
    import scipy.sparse as sp

    cls = ENGINE_MODELS[kind]
    name, p = next((n, p) for n, p in cls.param_spec.items()
                   if p.kind in ("int", "float") and p.low is not None)
    bad = _out_of_range(p)
    matrix = sp.csr_matrix(np.eye(4, dtype=np.float32))
    with pytest.raises(HyperparameterError, match=f"^{name} must be"):
        cls(**{name: bad}).fit(matrix)


@pytest.mark.parametrize("kind", sorted(ENGINE_MODELS))
def test_param_spec_contract_search_space_is_finite_and_valid(kind):
    cls = ENGINE_MODELS[kind]
    for name, space in search_space(cls).items():
        p = cls.param_spec[name]
        if space["kind"] == "choice":
            for choice in space["choices"]:
                p.validate(name, choice)
        else:
            assert np.isfinite([space["low"], space["high"]]).all()
            assert space["low"] < space["high"]
            for end in (space["low"], space["high"]):
                value = int(end) if p.kind == "int" else float(end)
                p.validate(name, value)
            if space["log"]:
                assert space["low"] > 0, name
    assert all(len(line) > 0 for line in spec_lines(cls))


def test_param_describe_and_parse_by_hand():
    p = Param("float", "", low=0, low_open=True, high=1)
    assert p.describe() == "a number in (0, 1]"
    assert p.parse("x", "0.5") == 0.5
    with pytest.raises(HyperparameterError, match=r"x must be a number in \(0, 1\], got 0.0"):
        p.parse("x", "0")
    with pytest.raises(HyperparameterError,
                       match=r"x must be a number in \(0, 1\], got 'abc' \(expected a float\)"):
        p.parse("x", "abc")
    assert Param("int", "", low=1).describe() == "an integer >= 1"
    q = Param("int", "", low=1, optional=True)
    assert q.parse("patience", "none") is None and q.parse("patience", "3") == 3
    layers = Param("int_list", "", low=1)
    assert layers.parse("hidden_layers", "64, 32") == (64, 32)
    assert layers.parse("hidden_layers", "") == ()
    mixed = Param("choice", "", choices=("auto", True, False))
    assert mixed.parse("use_bias", "true") is True and mixed.parse("use_bias", "auto") == "auto"
    with pytest.raises(HyperparameterError):
        mixed.validate("use_bias", 1)  # 1 is not True here: the choice keeps its type
    assert Param("bool", "").validate("b", np.bool_(True))
    with pytest.raises(HyperparameterError):
        Param("float", "", low=0).validate("r", float("nan"))


def test_check_param_is_a_one_off_param():
    """Function arguments in the other layers get the same wording as model hyperparameters."""
    with pytest.raises(HyperparameterError, match=r"^k must be an integer >= 1, got 0$"):
        check_param("k", 0, low=1, integer=True)
    with pytest.raises(HyperparameterError, match=r"^alpha must be a number in \[0, 1\], got 2$"):
        check_param("alpha", 2, low=0, high=1)
    with pytest.raises(HyperparameterError, match="must be one of 'a', 'b'"):
        check_param("m", "c", choices=("a", "b"))
    assert check_param("x", 0.5, low=0, low_open=True) == 0.5
