"""The two-tower model runs its item tower on a batch's items only under a sampled loss (issue
11: an epoch at ml-25m's 59k items went from ~52 to ~10 minutes); the loss and every gradient
must equal those of the whole-catalogue pass."""
import numpy as np
import pytest
import scipy.sparse as sp

from recsys_core.models.neural.sampling import split_history
from recsys_core.models.neural.two_tower import TwoTowerModel


def _batch(model, matrix, rng):
    params = model._params
    users = np.arange(8)
    seen = model.seen_[users]
    inputs, targets = split_history(seen, 0.5, rng)
    negatives = model._draw_negatives(rng, params, users, inputs, targets, seen)
    return params, users, inputs, targets, negatives, seen


@pytest.mark.parametrize("loss, negatives", [("sampled", "in-batch"), ("sampled", "uniform"),
                                             ("sampled", "popularity"),
                                             ("positives-only", "uniform")])
def test_batch_item_rows_give_the_whole_catalogue_gradients(loss, negatives, monkeypatch):
    rng = np.random.default_rng(0)
    matrix = sp.random(30, 200, density=0.05, random_state=1, format="csr", dtype=np.float32)
    matrix.data[:] = 1
    model = TwoTowerModel(factors=4, hidden_layers=(6,), item_hidden_layers=(5,), epochs=1,
                          loss=loss, negatives=negatives, n_negatives=20, batch_size=8,
                          item_bias=True, patience=None).fit(matrix)
    args = _batch(model, matrix, rng)
    seen_rows = []
    original = TwoTowerModel._item_forward

    def spy(self, params, rows=None):
        seen_rows.append(rows)
        return original(self, params, rows)

    monkeypatch.setattr(TwoTowerModel, "_item_forward", spy)
    loss_rows, grads_rows = model._loss_and_grads(*args)
    assert seen_rows[-1] is not None and len(seen_rows[-1]) < 200  # the batch's items only
    monkeypatch.setattr(TwoTowerModel, "_item_forward",
                        lambda self, params, rows=None: original(self, params, None))
    loss_all, grads_all = model._loss_and_grads(*args)
    assert loss_rows["softmax"] == pytest.approx(loss_all["softmax"], rel=1e-5)
    for name in grads_all:
        np.testing.assert_allclose(grads_rows[name], grads_all[name], rtol=1e-4, atol=1e-7)
