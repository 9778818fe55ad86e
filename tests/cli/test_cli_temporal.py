"""``train`` and ``tune`` with the global temporal split: the run records it, ``evaluate`` works
on its test ratings, and tuning validates on the end of the training period only."""
from __future__ import annotations


import numpy as np
import pandas as pd
import pytest

from recsys_core.evaluation.split import parse_time, temporal_split, validation_split
from recsys_core.runs.store import RunStore, load_run
from recsys_core.serving.pipeline import split_for_run
from recsys_core.tuning import Sweep
from tests.cli.support import cli




@pytest.fixture(scope="module")
def ml100k_folder(ml100k, data_dir):
    """The ml-100k folder (the ``ml100k`` fixture fails under CI when it is missing)."""
    return data_dir / "ml-100k"


def test_train_on_ml100k_records_the_temporal_split_and_evaluate_scores_its_test(
        capsys, ml100k_folder, tmp_path):
    out = tmp_path / "pop-temporal"
    code, text, err = cli(capsys, "train", "--data", ml100k_folder, "--model", "popularity",
                          "--split", "temporal", "--cutoff", "1998-03-01", "--out", out)
    assert code == 0, err
    assert "split: a global temporal split at 1998-03-01: " in text and "not scorable" in text
    run = load_run(out)
    recorded = run.info.split
    assert recorded["params"] == {"method": "temporal", "cutoff": parse_time("1998-03-01"),
                                  "test_fraction": None}
    dropped = recorded["counts"]["dropped"]
    assert dropped["ratings"] > 0 and dropped["users"] > 0
    split = split_for_run(run)  # rebuilt from the recorded params, same fingerprint
    assert split.test.n_ratings == recorded["counts"]["test_ratings"]
    coo = split.test.ratings.tocoo()
    test_csv = tmp_path / "test.csv"
    pd.DataFrame({"user": run.user_ids[coo.row], "item": run.item_ids[coo.col],
                  "rating": coo.data}).to_csv(test_csv, index=False)
    code, text, err = cli(capsys, "evaluate", "--run", out, "--test", test_csv)
    assert code == 0, err
    ndcg = float(next(line.split()[-1] for line in text.splitlines()
                      if line.strip().startswith("ndcg@10")))
    assert ndcg == pytest.approx(run.info.metrics["ndcg@10"], abs=1e-4)


@pytest.mark.parametrize("args, message", [
    (["--split", "holdout", "--cutoff", "1998-03-01"], "--cutoff is the cut-off time of --split temporal"),
    (["--cutoff", "1998-03-01", "--holdout", "0.2"], "not both"),
    (["--split", "temporal", "--holdout", "0"], "needs a test share"),
    (["--cutoff", "next spring"], "cannot read 'next spring' as a time"),
])
def test_split_options_that_do_not_go_together_exit_2_in_one_line(capsys, tmp_path, args,
                                                                   message):
    code, _, err = cli(capsys, "train", "--data", tmp_path / "nothing.csv", "--model",
                       "popularity", "--out", tmp_path / "run", *args)
    assert code == 2 and message in err and "Traceback" not in err


def test_a_dataset_without_timestamps_cannot_be_split_in_time(capsys, tmp_path):
    csv = tmp_path / "ratings.csv"
    csv.write_text("user,item,rating\n" + "".join(f"{u},{i},4\n" for u in range(5)
                                                  for i in range(4)))
    code, _, err = cli(capsys, "train", "--data", csv, "--model", "popularity", "--split",
                       "temporal", "--out", tmp_path / "run")
    assert code == 2 and "has no timestamps" in err and len(err.strip().splitlines()) == 1


@pytest.fixture(scope="module")
def timed_csv(tmp_path_factory):
    """60 users x 80 items, ratings spread over 1,000 days (every user active throughout)."""
    rng = np.random.default_rng(0)
    rows = {(int(u), int(i)) for u, i in zip(rng.integers(0, 60, 1500),
                                             rng.zipf(1.5, 1500) % 80)}
    days = rng.permutation(len(rows))
    path = tmp_path_factory.mktemp("timed") / "ratings.csv"
    path.write_text("user,item,rating,timestamp\n" + "".join(
        f"{u},{i},{1 + (u + i) % 5},{900_000_000 + int(d) * 600}\n"
        for (u, i), d in zip(sorted(rows), days)))
    return path


def test_tune_with_a_temporal_split_validates_on_the_end_of_the_training_period(
        capsys, timed_csv, tmp_path):
    from recsys_core.data import load_dataset

    out = tmp_path / "runs" / "tuned"
    code, text, err = cli(capsys, "tune", "--model", "wals", "--data", timed_csv, "--trials", "2",
                          "--param", "regularization=0.5:50:log", "--set", "iterations=2",
                          "--set", "factors=4", "--strategy", "random", "--split", "temporal",
                          "--folds", "2", "--out", out)
    assert code == 0, err
    assert "test split: a global temporal split at" in text
    assert "the latest 20% of the training period" in text
    data = load_dataset(timed_csv)
    split = temporal_split(data, test_fraction=0.2)
    info = RunStore(out.parent).info("tuned")
    assert info.split["params"] == split.params and "ndcg@10" in info.metrics
    record = Sweep.resume(RunStore(out.parent), "tuned").data_record
    folds = [validation_split(split.train, split.params, 0.2, fold=f) for f in range(2)]
    assert record["validation"] == folds[0].fingerprint
    assert record["validation_folds"] == [f.fingerprint for f in folds]
    cutoff = split.params["cutoff"]
    for fold in folds:  # validation before the test cut-off, training before validation
        assert fold.train.timestamps.max() < fold.params["cutoff"] <= fold.test.timestamps.min()
        assert fold.test.timestamps.max() < cutoff
    assert folds[1].test.timestamps.max() < folds[0].params["cutoff"]  # moved back in time
