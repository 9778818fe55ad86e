"""``tune --folds K``: each trial is the mean over K validation folds, recorded with the sweep and
in the saved run's search history; a bad K is refused in one line before the data is read."""
from __future__ import annotations

import json

import pytest

from recsys_core.cli import main
from recsys_core.runs.store import RunStore
from recsys_core.tuning import DEFAULT_FOLDS
from tests.cli.test_cli_tune import ratings_csv  # noqa: F401  (fixture)


def test_tune_folds_are_recorded_with_the_sweep_and_its_best_run(  # noqa: F811
        ratings_csv, tmp_path, capsys):
    out = tmp_path / "runs" / "k3"
    code = main(["tune", "--model", "wals", "--data", str(ratings_csv), "--trials", "2",
                 "--param", "regularization=0.1:1:log", "--set", "iterations=2",
                 "--strategy", "random", "--folds", "3", "--out", str(out)])
    text = capsys.readouterr().out
    assert code == 0 and "mean of 3 folds" in text
    info = RunStore(out.parent).info("k3")
    assert info.sweep["settings"]["folds"] == 3
    for row in info.sweep["trials"]:
        folds = [row[f"ndcg@10 fold {f}"] for f in (1, 2, 3)]
        assert row["ndcg@10"] == pytest.approx(sum(folds) / 3)
    record = json.loads((out.parent / ".sweeps" / "k3" / "sweep.json").read_text())
    assert record["folds"] == 3 and len(record["data"]["validation_folds"]) == 3


def test_tune_default_folds(ratings_csv, tmp_path, capsys):  # noqa: F811
    out = tmp_path / "runs" / "default"
    assert main(["tune", "--model", "ease", "--data", str(ratings_csv), "--trials", "1",
                 "--out", str(out)]) == 0
    assert RunStore(out.parent).info("default").sweep["settings"]["folds"] == DEFAULT_FOLDS


@pytest.mark.parametrize("folds", ["0", "11"])
def test_tune_refuses_bad_folds_in_one_line(ratings_csv, tmp_path, capsys, folds):  # noqa: F811
    code = main(["tune", "--model", "wals", "--data", str(ratings_csv), "--trials", "2",
                 "--folds", folds, "--out", str(tmp_path / "x")])
    err = capsys.readouterr().err
    assert code == 2 and "--folds" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists()
