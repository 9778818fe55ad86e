"""Sweeps scored on K validation folds (``Sweep(folds=K)``): a trial's value is the mean of its
per-fold values, K = 1 is the single split sweeps always used, K is kept by a resume, and early
stopping follows the fold-mean curve."""
from __future__ import annotations

import json
import math
import threading

import numpy as np
import pytest

from recsys_core.data.dataset import Dataset
from recsys_core.errors import HyperparameterError, PersistenceError
from recsys_core.evaluation.metrics import evaluate_model
from recsys_core.evaluation.split import holdout_split
from recsys_core.models import EASE
from recsys_core.runs.store import RunStore
from recsys_core.tuning import Dimension, Sweep
from recsys_core.tuning.sweep import fold_seeds
from tests.tuning.test_sweep import _sweep, planted, probe  # noqa: F401  (fixtures)

GRID = [Dimension("regularization", choices=(1.0, 30.0))]


@pytest.fixture
def tiny():
    rng = np.random.default_rng(3)
    users, items = rng.integers(0, 60, 1500), rng.integers(0, 45, 1500)
    dataset = Dataset.from_interactions(users, items, np.ones(1500), name="tiny")
    return dataset, holdout_split(dataset, test_fraction=0.2, seed=0)


def _ease_sweep(tmp_path, name, folds, **kw):
    return Sweep(RunStore(tmp_path / "runs"), name, "ease", GRID, strategy="grid", n_trials=2,
                 folds=folds, **kw)


def _ndcg_on(split, params):
    model = EASE(**params).fit(split.train)
    return evaluate_model(model, split.test, k=10, beyond_accuracy=False)["ndcg@10"]


def test_fold_value_is_the_mean_of_the_per_fold_scores(tmp_path, tiny):
    dataset, split = tiny
    sweep = _ease_sweep(tmp_path, "k3", 3, seed=5)
    trials = sweep.run(dataset, split)
    seeds = fold_seeds(5, 3)
    assert seeds[0] == 5 and len(set(seeds)) == 3
    folds = [holdout_split(split.train, 0.2, s) for s in seeds]
    for trial in trials:
        expected = [_ndcg_on(fold, trial.params) for fold in folds]
        assert trial.fold_values == pytest.approx(expected, abs=1e-12)
        assert trial.value == pytest.approx(sum(expected) / 3, abs=1e-12)
        assert len(set(trial.fold_values)) == 3  # three different splits, not one three times
    row = sweep.history()[0]
    assert [row[f"ndcg@10 fold {f}"] for f in (1, 2, 3)] == trials[0].fold_values
    # The trial's run records the folds; the sweep record names every validation split.
    info = RunStore(tmp_path / "runs").info(trials[0].run)
    assert info.sweep["folds"] == 3 and info.sweep["fold_values"] == trials[0].fold_values
    record = json.loads((sweep.folder / "sweep.json").read_text())
    assert record["folds"] == 3
    assert record["data"]["validation_folds"] == [f.fingerprint for f in folds]


def test_one_fold_is_the_split_sweeps_always_used(tmp_path, tiny):
    dataset, split = tiny
    one = _ease_sweep(tmp_path, "k1", 1, seed=5)
    assert fold_seeds(5, 1) == [5]
    inner = holdout_split(split.train, 0.2, 5)
    trials = one.run(dataset, split)
    for trial in trials:
        assert trial.value == _ndcg_on(inner, trial.params)  # exactly, not approximately
        assert trial.fold_values is None
    assert "ndcg@10 fold 1" not in one.history()[0]
    record = json.loads((one.folder / "sweep.json").read_text())
    assert record["data"]["validation"] == inner.fingerprint
    assert "validation_folds" not in record["data"]
    # The first of K folds is that same split.
    three = _ease_sweep(tmp_path, "k3", 3, seed=5).run(dataset, split)
    assert [t.fold_values[0] for t in three] == [t.value for t in trials]


def test_resume_keeps_the_folds(tmp_path, tiny):
    dataset, split = tiny
    cancel = threading.Event()
    first = Sweep(RunStore(tmp_path / "runs"), "later", "ease",
                  [Dimension("regularization", 1.0, 100.0, log=True)], strategy="random",
                  n_trials=3, folds=2, seed=1)
    first.run(dataset, split, cancel=cancel, on_trial=lambda t: cancel.set())
    again = Sweep.resume(RunStore(tmp_path / "runs"), "later")
    assert again.folds == 2 and again.settings() == first.settings()
    assert len(again.trials[0].fold_values) == 2
    trials = again.run(dataset, split)
    assert len(trials) == 3 and all(len(t.fold_values) == 2 for t in trials)
    with pytest.raises(PersistenceError):  # other folds under the same name are refused
        Sweep(RunStore(tmp_path / "runs"), "later", "ease",
              [Dimension("regularization", 1.0, 100.0, log=True)], strategy="random",
              n_trials=3, folds=3, seed=1).run(dataset, split)


def test_a_sweep_recorded_before_folds_existed_resumes_with_one(tmp_path, tiny):
    dataset, split = tiny
    cancel = threading.Event()
    old = _ease_sweep(tmp_path, "old", 1)
    old.run(dataset, split, cancel=cancel, on_trial=lambda t: cancel.set())
    path = old.folder / "sweep.json"
    record = json.loads(path.read_text())
    del record["folds"]
    path.write_text(json.dumps(record))
    again = Sweep.resume(RunStore(tmp_path / "runs"), "old")
    assert again.folds == 1
    assert len(again.run(dataset, split)) == 2


@pytest.mark.parametrize("folds", [0, 11, 1.5, True])
def test_bad_folds_are_refused(tmp_path, folds):
    with pytest.raises(HyperparameterError, match="folds"):
        _ease_sweep(tmp_path, "bad", folds)


def test_early_stopping_follows_the_fold_mean_curve(tmp_path, probe, planted):  # noqa: F811
    dataset, split = planted
    probe.fitted.clear()
    # The probe's validation metric is flat: patience 1 stops the first fold at epoch 2, and
    # the second fold trains as many epochs.
    sweep = _sweep(tmp_path, dims=[Dimension("favour", choices=("a",))], n_trials=1,
                   fixed_params={"epochs": 10}, patience=1, save_trials=False, folds=2)
    (trial,) = sweep.run(dataset, split)
    assert len(probe.fitted) == 2
    assert trial.epochs == 2 and trial.best_epoch == 1
    assert len(trial.fold_values) == 2
    assert trial.value == pytest.approx(math.fsum(trial.fold_values) / 2)
    assert sweep.best_params()["epochs"] == 1
