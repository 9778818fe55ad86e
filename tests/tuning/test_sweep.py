"""Sweeps (recsys_core.tuning): the test split stays unseen, restarts resume, cancel keeps only
complete runs, grid/random/TPE are what they say and reproducible."""
from __future__ import annotations

import json
import threading

import numpy as np
import pytest
import scipy.sparse as sp

from recsys_core.data.dataset import Dataset
from recsys_core.errors import HyperparameterError, PersistenceError, ScoresNotRatingsError
from recsys_core.evaluation.split import Split
from recsys_core.models import MODEL_REGISTRY
from recsys_core.models.base import Recommender
from recsys_core.runs.store import RunStore
from recsys_core.tuning import Dimension, Sweep, parse_dimension

N_USERS, GROUP_A, GROUP_B = 40, 12, 6  # items 0..11 are group A, 12..17 group B


@pytest.fixture
def probe():
    """A tiny model kind ("probe") whose hyperparameter ``favour`` ranks group A or group B
    first (with ``strength`` as a tie-free item order), and which records every matrix it is
    fitted on. ``cancel_at`` = (fit number, epoch, event) sets the event mid-fit."""

    class Probe(Recommender):
        kind = "probe"
        from recsys_core.validation import Param
        param_spec = {"favour": Param("choice", "Group ranked first.", choices=("a", "b")),
                      "strength": Param("float", "Scale.", low=0.1, high=10.0, log=True),
                      "epochs": Param("int", "Epochs.", low=1, high=10)}
        fitted: list = []
        cancel_at = None

        def __init__(self, favour="a", strength=1.0, epochs=3):
            self.favour, self.strength, self.epochs = favour, strength, epochs

        def fit(self, data, *, validation=None, callback=None):
            matrix = self._start_fit(data)
            Probe.fitted.append(matrix.copy())
            group = np.arange(self.n_items_) < GROUP_A
            if self.favour == "b":
                group = ~group
            # Later items of a group score lower, so lists differ with favour only.
            items = (group * 10.0 - np.arange(self.n_items_) * 0.01) * self.strength
            self.item_embeddings_ = items.astype(np.float32)[:, None]
            self.user_embeddings_ = np.ones((self.n_users_, 1), np.float32)
            for epoch in range(1, self.epochs + 1):
                if Probe.cancel_at and Probe.cancel_at[:2] == (len(Probe.fitted), epoch):
                    Probe.cancel_at[2].set()
                if self._end_epoch(epoch, self.epochs, {"total": 1.0 / epoch}, validation,
                                   callback):
                    break
            return self

        def fold_in(self, items, ratings=None):
            return np.ones(1, np.float32)

    yield Probe
    MODEL_REGISTRY.pop("probe", None)


@pytest.fixture
def planted():
    """Every user rates all items; the test split holds exactly the group B ratings, so on test
    favour="b" is perfect and favour="a" scores 0 -- and the reverse on any validation split
    carved from the training (group A) ratings."""
    users = np.repeat(np.arange(N_USERS), GROUP_A + GROUP_B)
    items = np.tile(np.arange(GROUP_A + GROUP_B), N_USERS)
    dataset = Dataset.from_interactions(users, items, np.ones(len(users)), name="planted")
    group_b = dataset.ratings.indices >= GROUP_A
    split = Split(train=dataset.select_entries(~group_b), test=dataset.select_entries(group_b),
                  params={"method": "planted"}, fingerprint="planted0000000000", name="planted",
                  test_mask=group_b)
    return dataset, split


def _sweep(tmp_path, name="s", strategy="grid", n_trials=4, dims=None, **kw):
    dims = dims if dims is not None else [Dimension("favour", choices=("a", "b")),
                    Dimension("strength", 0.5, 2.0, log=True)]
    return Sweep(RunStore(tmp_path / "runs"), name, "probe", dims, strategy=strategy,
                 n_trials=n_trials, **kw)


@pytest.mark.parametrize("folds", [1, 2])
def test_search_never_sees_the_test_split(tmp_path, probe, planted, folds):
    dataset, split = planted
    probe.fitted.clear()
    sweep = _sweep(tmp_path, folds=folds)
    trials = sweep.run(dataset, split)
    assert len(probe.fitted) == 4 * folds  # every trial fitted once per validation fold
    assert {t.params["favour"] for t in trials} == {"a", "b"}
    # Every fit of the search got training ratings only (no group B column), and fewer of
    # them than the training part: a validation share was held out.
    assert all(m[:, GROUP_A:].nnz == 0 for m in probe.fitted)
    assert all(m.nnz < split.train.n_ratings for m in probe.fitted)
    # favour="b" is the best setting on test, but the search chose by validation.
    assert sweep.best().params["favour"] == "a"
    info, test_metrics = sweep.refit_best(dataset, split)
    assert info.params["favour"] == "a" and set(test_metrics) >= {"ndcg@10", "recall@10"}
    assert probe.fitted[-1].nnz == split.train.n_ratings  # refit on all the training data
    assert info.sweep["best_trial"] == sweep.best().number
    assert len(info.sweep["trials"]) == 4


def test_trials_are_runs_grouped_under_the_sweep(tmp_path, probe, planted):
    dataset, split = planted
    sweep = _sweep(tmp_path, name="grp")
    sweep.run(dataset, split)
    infos = RunStore(tmp_path / "runs").list()
    assert sorted(i.name for i in infos) == [f"grp-t{n:03d}" for n in range(4)]
    for info in infos:
        assert info.sweep["name"] == "grp" and isinstance(info.sweep["trial"], int)
        assert info.split["fingerprint"] == split.fingerprint
        assert "val_ndcg@10" in info.metrics


def test_restart_resumes_without_redoing_trials(tmp_path, probe, planted):
    dataset, split = planted
    cancel = threading.Event()
    first = _sweep(tmp_path, strategy="random", n_trials=6)
    first.run(dataset, split, cancel=cancel,
              on_trial=lambda t: cancel.set() if t.number == 2 else None)
    assert [t.number for t in first.trials] == [0, 1, 2]
    done = {t.number: t.params for t in first.trials}
    probe.fitted.clear()
    again = _sweep(tmp_path, strategy="random", n_trials=6)  # a new process on the same folder
    trials = again.run(dataset, split)
    assert [t.number for t in trials] == list(range(6))
    assert len(probe.fitted) == 3  # only the missing trials were fitted
    assert all(trials[n].params == p for n, p in done.items())
    # The same trials as a sweep that was never interrupted.
    straight = _sweep(tmp_path, name="straight", strategy="random", n_trials=6).run(dataset, split)
    assert [t.params for t in straight] == [t.params for t in trials]
    assert len(RunStore(tmp_path / "runs").list()) == 12
    # Other settings under the same name are refused, not mixed in.
    with pytest.raises(PersistenceError):
        _sweep(tmp_path, strategy="random", n_trials=6, metric="recall@5").run(dataset, split)


def test_cancel_mid_fit_leaves_only_complete_runs(tmp_path, probe, planted):
    dataset, split = planted
    cancel = threading.Event()
    probe.cancel_at = (2, 2, cancel)  # the second trial's fit, at its second epoch
    try:
        sweep = _sweep(tmp_path, strategy="random", n_trials=5)
        trials = sweep.run(dataset, split, cancel=cancel)
    finally:
        probe.cancel_at = None
    assert [t.number for t in trials] == [0]
    store = RunStore(tmp_path / "runs")
    assert [i.name for i in store.list()] == ["s-t000"] and store.damaged() == []
    store.load("s-t000")
    assert len(list((tmp_path / "runs" / ".sweeps" / "s" / "trials").glob("*.json"))) == 1


def test_grid_covers_the_grid(tmp_path, probe, planted):
    dataset, split = planted
    dims = [Dimension("favour", choices=("a", "b")), Dimension("strength", 0.1, 10.0, log=True),
            Dimension("epochs", 1, 3, integer=True)]
    sweep = _sweep(tmp_path, dims=dims, n_trials=18, save_trials=False)
    trials = sweep.run(dataset, split)
    seen = {(t.params["favour"], round(t.params["strength"], 6), t.params["epochs"])
            for t in trials}
    expected = {(f, round(s, 6), e) for f in ("a", "b") for s in (0.1, 1.0, 10.0)
                for e in (1, 2, 3)}
    assert seen == expected and len(trials) == 18


@pytest.mark.parametrize("strategy", ["random", "tpe"])
def test_random_and_tpe_are_reproducible_with_a_seed(tmp_path, probe, planted, strategy):
    dataset, split = planted
    dims = [Dimension("strength", 0.1, 10.0, log=True), Dimension("favour", choices=("a", "b"))]
    runs = [_sweep(tmp_path, name=f"r{i}", strategy=strategy, n_trials=8, dims=dims,
                   seed=seed, save_trials=False).run(dataset, split)
            for i, seed in enumerate((3, 3, 4))]
    params = [[t.params for t in trials] for trials in runs]
    assert params[0] == params[1] and params[0] != params[2]
    for trial in runs[0]:
        assert 0.1 <= trial.params["strength"] <= 10.0


def test_early_stopping_and_budget(tmp_path, probe, planted):
    dataset, split = planted
    # The probe's validation metric never improves after epoch 1: patience 1 stops at epoch 2.
    sweep = _sweep(tmp_path, dims=[Dimension("favour", choices=("a",))], n_trials=1,
                   fixed_params={"epochs": 10}, patience=1, save_trials=False)
    (trial,) = sweep.run(dataset, split)
    assert trial.epochs == 2 and trial.best_epoch == 1
    assert sweep.best_params()["epochs"] == 1


def test_bad_settings_are_refused(tmp_path, probe):
    from recsys_core.models import WALS

    with pytest.raises(HyperparameterError, match="tunes 1 to 3"):
        _sweep(tmp_path, dims=[])
    with pytest.raises(HyperparameterError, match="metric"):
        _sweep(tmp_path, metric="auc")
    with pytest.raises(HyperparameterError):
        parse_dimension(WALS, "regularization=-1:5")
    dim = parse_dimension(WALS, "regularization=0.1:100:log")
    assert dim.log and dim.low == 0.1 and not dim.integer
    assert parse_dimension(WALS, "factors=16,32").choices == (16, 32)
    assert parse_dimension(WALS, "factors").integer


def test_a_rating_metric_refuses_a_model_whose_scores_are_not_ratings(tmp_path, probe,
                                                                      planted):
    """The probe's scores only rank (predicts_ratings False): a sweep for RMSE says so instead
    of failing on the missing metric, saves no trial, and leaves the sweep free to run again."""
    dataset, split = planted
    sweep = _sweep(tmp_path, dims=[Dimension("favour", choices=("a",))], n_trials=1,
                   metric="rmse")
    for _ in range(2):
        with pytest.raises(ScoresNotRatingsError, match="probe for rmse: .* not rating estimates"):
            sweep.run(dataset, split)
    assert sweep.trials == [] and RunStore(tmp_path / "runs").list() == []


def test_a_saved_sweep_is_resumed_from_its_folder_alone(tmp_path, probe, planted):
    from recsys_core.tuning import saved_sweeps

    dataset, split = planted
    cancel = threading.Event()
    first = _sweep(tmp_path, name="later", strategy="tpe", n_trials=5, seed=2)
    first.run(dataset, split, cancel=cancel,
              on_trial=lambda t: cancel.set() if t.number == 1 else None)
    store = RunStore(tmp_path / "runs")
    assert saved_sweeps(store) == ["later"]
    again = Sweep.resume(store, "later")  # what a restarted app knows: the store and the name
    assert again.settings() == first.settings() and len(again.trials) == 2
    assert not again.finished()
    trials = again.run(dataset, split)
    assert [t.number for t in trials] == list(range(5)) and again.finished()
    assert [t.params for t in trials[:2]] == [t.params for t in first.trials]
    with pytest.raises(PersistenceError):
        Sweep.resume(store, "nothing")


def test_a_running_sweep_cannot_be_run_twice_at_once(tmp_path, probe, planted):
    """Two sessions resuming one sweep would fit the same trial numbers twice and overwrite each
    other's records: the second is refused while the first runs, and may resume afterwards."""
    from recsys_core.errors import SweepBusyError

    dataset, split = planted
    store = RunStore(tmp_path / "runs")
    cancel = threading.Event()
    refused = []

    def second_session(trial):
        if trial.number == 1:
            with pytest.raises(SweepBusyError, match="already running"):
                Sweep.resume(store, "shared").run(dataset, split)
            refused.append(trial.number)
            cancel.set()

    first = _sweep(tmp_path, name="shared", strategy="random", n_trials=4)
    first.run(dataset, split, cancel=cancel, on_trial=second_session)
    assert refused == [1] and [t.number for t in first.trials] == [0, 1]
    trials = Sweep.resume(store, "shared").run(dataset, split)  # the lock went with the run
    assert [t.number for t in trials] == [0, 1, 2, 3]
    assert len(store.list()) == 4
