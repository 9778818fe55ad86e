"""`train` says what a softmax or two-tower fit will cost before it starts (issue 11: at
ml-25m's size an epoch takes minutes and a default fit hours)."""
import pytest

from recsys_core.cli import main
from recsys_core.data.demo import make_demo_dataset
from tests.files import write_ratings_csv


@pytest.fixture(scope="module")
def ratings(tmp_path_factory):
    return write_ratings_csv(make_demo_dataset(seed=0, n_users=60, n_items=40),
                             tmp_path_factory.mktemp("cli-cost"))


@pytest.mark.parametrize("model", ["softmax", "two-tower"])
def test_train_prints_the_expected_cost_before_the_first_epoch(capsys, ratings, tmp_path, model):
    code = main(["train", "--data", str(ratings), "--model", model, "--out",
                 str(tmp_path / model), "--set", "epochs=2", "--set", "factors=4"])
    out = capsys.readouterr().out
    assert code == 0
    lines = out.splitlines()
    cost = next(i for i, line in enumerate(lines) if line.startswith("expected: about"))
    first_epoch = next(i for i, line in enumerate(lines) if line.startswith("epoch 1/2"))
    assert cost < first_epoch and "per epoch" in lines[cost] and "for 2 epochs" in lines[cost]


def test_other_models_print_no_estimate(capsys, ratings, tmp_path):
    assert main(["train", "--data", str(ratings), "--model", "wals", "--out",
                 str(tmp_path / "wals"), "--set", "iterations=1"]) == 0
    assert "expected:" not in capsys.readouterr().out
