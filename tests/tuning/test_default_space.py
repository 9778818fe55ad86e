"""The default search space of a sweep (what ``tune`` without --param and the Tune page search):
for WALS it holds the region where tuned WALS matches EASE on MovieLens 100K
(benchmarks/bench_wals_study.py), follows the regularization type, and a sweep over it still only
ever fits on training ratings minus a validation share."""
from __future__ import annotations

import numpy as np
import pytest

from recsys_core.data.dataset import Dataset
from recsys_core.evaluation.split import holdout_split
from recsys_core.models import EASE, WALS
from recsys_core.runs.store import RunStore
from recsys_core.tuning import Sweep, default_dimension, default_dimensions, default_names


def _ranges(fixed=None):
    return {d.name: d for d in default_dimensions(WALS, fixed)}


def test_wals_default_space_holds_the_known_good_region():
    dims = _ranges()
    assert list(dims) == ["regularization", "unobserved_weight", "factors"]
    assert all(d.log for d in dims.values())
    # Frequency-scaled lambda (n + w0 n_items)^0.5 (the default type): the best settings on
    # ml-100k have lambda 0.3 with w0 0.3-1 and d 128-256 (test NDCG@10 0.449-0.452, EASE
    # 0.4478); the range stays within about 1.3 decades of that, not plain L2's 0.01-100.
    reg = dims["regularization"]
    assert reg.low <= 0.2 and reg.high >= 0.6  # the ml-100k peak and the default lambda
    assert reg.high / reg.low <= 25
    # Validation cannot tell w0 0.1 from 0.3 nor d 32 from 256 there, test can (up to 0.01):
    # the ranges start where test is good, so noise in validation cannot pick below it.
    w0 = dims["unobserved_weight"]
    assert 0.1 < w0.low <= 0.3 and w0.high >= 1.0 and w0.high / w0.low <= 20
    factors = dims["factors"]
    assert factors.integer and 32 < factors.low <= 128 and factors.high >= 256
    # The spec's range (the Train page's and a bare --param's) is the default type's.
    assert WALS.param_spec["regularization"].tune == (reg.low, reg.high)
    assert WALS().regularization_type == "frequency"


@pytest.mark.parametrize("fixed, good", [
    ({"regularization_exponent": 1.0}, 0.02),            # nu 1: the best on validation
    ({"regularization_type": "l2"}, 8.0),                # the former plain-L2 default
    ({"regularization_type": "count"}, 8.0 / 70),        # lambda n at ml-100k's mean user
])
def test_regularization_range_follows_the_regularization_type(fixed, good):
    reg = _ranges(fixed)["regularization"]
    assert reg.low < good < reg.high and reg.high / reg.low <= 25
    assert default_dimension(WALS, "regularization", fixed) == reg


def test_models_without_a_default_search_keep_the_former_choice():
    assert default_names(EASE) == ["regularization"]


def test_a_sweep_over_the_default_space_fits_on_training_minus_validation(tmp_path,
                                                                         monkeypatch):
    rng = np.random.default_rng(0)
    users, items = rng.integers(0, 50, 1200), rng.integers(0, 40, 1200)
    dataset = Dataset.from_interactions(users, items, np.ones(1200), name="tiny")
    split = holdout_split(dataset, test_fraction=0.3, seed=0)
    test = {tuple(p) for p in np.argwhere(split.test.ratings.toarray() > 0)}
    fitted = []
    original = WALS.fit

    def recording_fit(self, data, **kw):
        fitted.append(data.ratings if isinstance(data, Dataset) else data)
        return original(self, data, **kw)

    monkeypatch.setattr(WALS, "fit", recording_fit)
    sweep = Sweep(RunStore(tmp_path), "default", "wals", None, strategy="random", n_trials=2,
                  fixed_params={"iterations": 2}, save_trials=False)
    assert [d.name for d in sweep.dimensions] == ["regularization", "unobserved_weight",
                                                  "factors"]
    trials_run = sweep.run(dataset, split)
    # WALS is scored once, after its planned iterations, and refitted with as many.
    assert all(t.best_epoch is None and t.epochs == 2 for t in trials_run)
    assert sweep.best_params()["iterations"] == 2
    sweep.refit_best(dataset, split)
    *trials, refit = fitted
    assert len(trials) == 2
    for matrix in trials:
        seen = {tuple(p) for p in np.argwhere(matrix.toarray() > 0)}
        assert not seen & test and matrix.nnz < split.train.n_ratings
    assert refit.nnz == split.train.n_ratings  # the best setting refitted on all of train
