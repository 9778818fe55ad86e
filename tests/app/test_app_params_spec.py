"""The Train page draws each model's hyperparameter widgets from its param_spec (AppTest).

For every trainable model kind: one widget per spec entry, of the type the spec asks for
(checkbox, select box with the spec's choices, multiselect, slider over the spec's range, number
input, comma-separated text), prefilled with the ``__init__`` default, with the spec's help; and a
value the spec refuses is a message naming the allowed values, not a traceback.
"""
from __future__ import annotations

import inspect

import pytest
from streamlit.testing.v1 import AppTest

from recsys_core.models import trainable_models
from ui.params import widget_kind


def _widgets(at: AppTest, kind: str) -> dict:
    """The page's widgets by key (without the "_w_" prefix) of one widget type."""
    return {w.key.removeprefix("_w_"): w for w in getattr(at, kind)}


@pytest.mark.parametrize("kind", sorted(trainable_models()))
def test_train_page_widgets_follow_the_param_spec(train_page, kind):
    cls = trainable_models()[kind]
    at = train_page(kind)
    defaults = {n: p.default for n, p in inspect.signature(cls).parameters.items()}
    for name, p in cls.param_spec.items():
        widget = widget_kind(p)
        if not widget:
            continue
        found = _widgets(at, widget)
        key = f"hp_{kind}_{name}"
        assert key in found, (kind, name, widget)
        w = found[key]
        assert p.help.split(".")[0] in (w.help or ""), (name, w.help)
        assert p.describe() in w.help
        if widget == "selectbox":
            assert list(w.options) == [str(c) for c in p.choices]
            assert w.value == defaults[name]
        elif widget == "multiselect":
            assert tuple(w.value) == tuple(defaults[name])
        elif widget == "slider":
            assert w.min >= p.low and w.max <= p.high
            assert w.value == pytest.approx(defaults[name])
        elif widget == "number_input":
            assert w.value == pytest.approx(defaults[name])
        elif widget == "checkbox":
            assert w.value is bool(defaults[name])
        elif widget == "text_input":
            assert w.value == p.to_text(defaults[name])


def test_train_page_refuses_a_value_outside_the_spec_with_its_range(train_page):
    at = train_page("mf")
    at.number_input(key="_w_hp_mf_factors").set_value(0).run()
    at.button(key="train").click().run()
    assert not at.exception
    assert at.error and "factors must be an integer in [1, 4096], got 0" in at.error[0].value


def test_train_page_layer_widths_are_comma_separated_and_checked(train_page):
    at = train_page("softmax")
    at.text_input(key="_w_hp_softmax_hidden_layers").set_value("64, x").run()
    assert not at.exception
    assert at.error and "hidden_layers must be a list of integers >= 1" in at.error[0].value
