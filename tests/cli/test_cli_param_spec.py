"""train --set is parsed and checked by each model's param_spec; --help lists the spec."""
import pytest

from recsys_core.cli import main
from recsys_core.cli.models import parse_settings
from recsys_core.errors import HyperparameterError
from recsys_core.models import MODEL_REGISTRY, trainable_models


@pytest.mark.parametrize("kind, setting, allowed", [
    ("mf", "factors=0", "factors must be an integer in [1, 4096], got 0"),
    ("mf", "lr_decay=1.5", "lr_decay must be a number in (0, 1], got 1.5"),
    ("wals", "regularization=0", "regularization must be a number > 0, got 0.0"),
    ("softmax", "target_fraction=0", "target_fraction must be a number in (0, 1], got 0.0"),
    ("softmax", "hidden_layers=64,0", "hidden_layers must be a list of integers >= 1"),
    ("two-tower", "inputs=history,zip", "inputs must be a list of at least one of 'history'"),
    ("content", "measure=manhattan", "measure must be one of 'dot', 'cosine'"),
    ("ease", "use_ratings=maybe", "use_ratings must be True or False, got 'maybe'"),
])
def test_bad_set_value_names_the_allowed_range(capsys, tmp_path, kind, setting, allowed):
    code = main(["train", "--data", str(tmp_path / "unused.csv"), "--model", kind,
                 "--out", str(tmp_path / "run"), "--set", setting])
    err = capsys.readouterr().err
    assert code == 2 and f"--set {setting}: " in err and allowed in err, err
    assert not (tmp_path / "run").exists()


def test_set_values_are_typed_by_the_spec():
    assert parse_settings(MODEL_REGISTRY["softmax"],
                          ["hidden_layers=64,32", "patience=none", "inputs=history,user",
                           "item_bias=yes", "learning_rate=1e-3"]) == {
        "hidden_layers": (64, 32), "patience": None, "inputs": ("history", "user"),
        "item_bias": True, "learning_rate": 1e-3}
    assert parse_settings(MODEL_REGISTRY["mf"], ["use_bias=auto", "implicit_feedback=false"]) \
        == {"use_bias": "auto", "implicit_feedback": False}
    with pytest.raises(HyperparameterError, match="valid names: variant, damping"):
        parse_settings(MODEL_REGISTRY["popularity"], ["factors=3"])


def test_help_lists_every_spec_entry_with_its_range(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = capsys.readouterr().out
    for kind, cls in trainable_models().items():
        for name, p in cls.param_spec.items():
            assert f"{name}=" in out, (kind, name)
    assert "lr_decay=0.98  (a number in (0, 1])" in out
