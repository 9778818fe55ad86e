"""``python -m recsys_core tune``: the trial table, the refitted best run with its search history,
and one-line errors for bad settings."""
from __future__ import annotations

import numpy as np
import pytest

from recsys_core.cli import main
from recsys_core.runs.store import RunStore


@pytest.fixture(scope="module")
def ratings_csv(tmp_path_factory):
    rng = np.random.default_rng(0)
    rows = {(int(u), int(i)) for u, i in zip(rng.integers(0, 60, 1500),
                                             rng.zipf(1.5, 1500) % 80)}
    path = tmp_path_factory.mktemp("data") / "ratings.csv"
    path.write_text("user,item,rating\n" + "".join(f"{u},{i},{1 + (u + i) % 5}\n"
                                                   for u, i in sorted(rows)))
    return path


def test_tune_prints_trials_and_saves_the_best_with_its_history(ratings_csv, tmp_path, capsys):
    out = tmp_path / "runs" / "tuned"
    code = main(["tune", "--model", "wals", "--data", str(ratings_csv), "--trials", "3",
                 "--param", "regularization=0.5:50:log", "--param", "factors=4,8",
                 "--set", "iterations=4", "--strategy", "random", "--holdout", "0.2",
                 "--out", str(out)])
    text = capsys.readouterr().out
    assert code == 0
    assert "val ndcg@10" in text and "3 trials; best: trial" in text
    assert "test metrics of the refitted best setting" in text
    store = RunStore(out.parent)
    names = sorted(i.name for i in store.list())
    assert names == ["tuned", "tuned-t000", "tuned-t001", "tuned-t002"]
    info = store.info("tuned")
    assert info.sweep["trial"] is None and len(info.sweep["trials"]) == 3
    best = info.sweep["trials"][info.sweep["best_trial"]]
    assert info.params["regularization"] == best["regularization"]
    assert info.params["factors"] == best["factors"] and "ndcg@10" in info.metrics
    assert info.split is not None  # the held-out test split, evaluated once at the end


@pytest.mark.parametrize("args, message", [
    (["--param", "regularization=-1:5"], "regularization"),
    (["--param", "nonsense=1:2"], "no hyperparameter 'nonsense'"),
    (["--metric", "auc"], "unknown metric"),
])
def test_tune_refuses_bad_settings_in_one_line(ratings_csv, tmp_path, capsys, args, message):
    code = main(["tune", "--model", "wals", "--data", str(ratings_csv), "--trials", "2",
                 "--out", str(tmp_path / "x"), *args])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists()


def test_tune_without_param_searches_the_default_space(ratings_csv, tmp_path, capsys):
    out = tmp_path / "runs" / "default"
    code = main(["tune", "--model", "wals", "--data", str(ratings_csv), "--trials", "2",
                 "--set", "iterations=2", "--strategy", "random", "--out", str(out)])
    text = capsys.readouterr().out
    assert code == 0
    # WALS's default search space, frequency-scaled lambda on its own scale (not 0.01-100).
    from recsys_core.models import WALS
    from recsys_core.tuning import default_dimensions

    dims = default_dimensions(WALS)
    assert "; ".join(d.describe() for d in dims) in text
    params = RunStore(out.parent).info("default").params
    assert all(d.low <= params[d.name] <= d.high for d in dims)


def test_tune_param_ranges_follow_the_fixed_regularization_type(ratings_csv, tmp_path, capsys):
    code = main(["tune", "--model", "wals", "--data", str(ratings_csv), "--trials", "1",
                 "--param", "regularization", "--set", "regularization_type=l2",
                 "--set", "iterations=1", "--out", str(tmp_path / "runs" / "l2")])
    from recsys_core.models.als.wals import L2_TUNE_RANGE  # plain L2: the range unscaled

    expected = f"regularization in [{L2_TUNE_RANGE[0]:.2g}, {L2_TUNE_RANGE[1]:.2g}] (log)"
    assert code == 0 and expected in capsys.readouterr().out
