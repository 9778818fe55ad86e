"""The default search space of a sweep (what ``tune`` without --param and the Tune page search):
for WALS it holds the best settings a 30-trial search found on validation splits of the defaults
protocol's real catalogues (docs/defaults-protocol.md, test not used), follows the regularization
type, and a sweep over it still only ever fits on training ratings minus a validation share."""
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


def test_wals_default_space_holds_the_validation_best_region():
    dims = _ranges()
    assert list(dims) == ["regularization", "unobserved_weight", "factors"]
    assert all(d.log for d in dims.values())
    # The protocol's 30-trial searches (validation splits only): the best settings were lambda
    # 1.49 / 0.65, w0 0.96 / 0.059 and d 30 / 122 (ml-100k / ml-latest-small), and the defaults
    # (lambda 0.65, w0 0.1, d 64) sit among them; the ranges hold all of them, not plain L2's
    # 0.01-100.
    reg, w0, factors = dims["regularization"], dims["unobserved_weight"], dims["factors"]
    assert reg.low < 0.65 and 1.49 < reg.high and reg.high / reg.low <= 25
    assert w0.low < 0.059 and 0.96 < w0.high and w0.high / w0.low <= 40
    defaults = WALS()
    assert reg.low < defaults.regularization < reg.high
    assert w0.low < defaults.unobserved_weight < w0.high
    assert factors.integer and factors.low <= 30 and factors.high >= 256
    # The spec's range (the Train page's and a bare --param's) is the default type's.
    assert WALS.param_spec["regularization"].tune == (reg.low, reg.high)
    assert defaults.regularization_type == "observed"


# A good lambda on each type's own scale: observed lambda 0.65 n^0.5 is 0.65 x 60 ** 0.5 / 60 at
# nu = 1 over a row of 60 entries; frequency's 0.3 at nu 0.5 (x 300 ** nu at TUNE_ROW_SIZE 300)
# is a plain weight of 0.3 x 300 ** 0.5 = 5.2 ("count": shared over a row of 60 entries).
@pytest.mark.parametrize("fixed, good", [
    ({"regularization_exponent": 1.0}, 0.65 / 60 ** 0.5),
    ({"regularization_type": "frequency"}, 0.3),
    ({"regularization_type": "frequency", "regularization_exponent": 1.0}, 0.3 / 300 ** 0.5),
    ({"regularization_type": "l2"}, 0.3 * 300 ** 0.5),
    ({"regularization_type": "count"}, 0.3 * 300 ** 0.5 / 60),
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
