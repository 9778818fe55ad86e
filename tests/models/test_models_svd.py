"""SVDModel: exact low-rank recovery, agreement with a dense SVD, the sqrt(S) split, projection
fold-in, persistence, bad hyperparameters and a top-N floor on MovieLens 100K."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recsys_core.errors import HyperparameterError
from recsys_core.evaluation.metrics import evaluate_model
from recsys_core.evaluation.split import predefined_split
from recsys_core.models import Recommender, SVDModel


def _sparse_random(n_users=120, n_items=90, density=0.1, seed=0):
    rng = np.random.default_rng(seed)
    return sp.random(n_users, n_items, density=density, random_state=rng, format="csr",
                     data_rvs=lambda n: rng.integers(1, 6, n).astype(float))


def test_rank2_matrix_is_reproduced_exactly():
    rng = np.random.default_rng(0)
    full = rng.random((15, 2)) @ (rng.random((2, 12)) + 0.1)  # rank 2, no zeros
    model = SVDModel(factors=2, binary=False).fit(sp.csr_matrix(full))
    np.testing.assert_allclose(model.score(np.arange(15)), full, atol=1e-4)
    assert not model.predicts_ratings


def test_sparse_solver_matches_dense_svd_and_splits_singular_values_evenly():
    matrix = _sparse_random()  # 90 > 64 columns, so the sparse (ARPACK) path is used
    model = SVDModel(factors=5, binary=False).fit(matrix)
    P, S, Qt = np.linalg.svd(matrix.toarray(), full_matrices=False)
    np.testing.assert_allclose(model.singular_values_, S[:5], rtol=1e-5)
    best_rank5 = (P[:, :5] * S[:5]) @ Qt[:5]
    np.testing.assert_allclose(model.score(np.arange(120)), best_rank5, atol=1e-4)
    # U = P sqrt(S), V = Q sqrt(S): both sides' columns have norm sqrt(S)
    np.testing.assert_allclose(np.linalg.norm(model.user_embeddings_, axis=0), np.sqrt(S[:5]),
                               rtol=1e-4)
    np.testing.assert_allclose(np.linalg.norm(model.item_embeddings_, axis=0), np.sqrt(S[:5]),
                               rtol=1e-4)
    frobenius = ((matrix.toarray() - best_rank5) ** 2).sum() / matrix.shape[0] / matrix.shape[1]
    assert model.history_[0]["total"] == pytest.approx(frobenius, rel=1e-4)
    assert model.history_[0]["explained_variance"] == pytest.approx(
        (S[:5] ** 2).sum() / (S ** 2).sum(), rel=1e-5)


def test_projection_fold_in_reproduces_training_users_and_items():
    matrix = _sparse_random()
    model = SVDModel(factors=8, binary=False).fit(matrix)
    for user in (0, 17, 99):
        row = matrix[user]
        np.testing.assert_allclose(model.fold_in(row.indices, row.data),
                                   model.user_embeddings_[user], atol=1e-5)
    column = matrix.tocsc()[:, 4]
    np.testing.assert_allclose(model.fold_in_item(column.indices, column.data),
                               model.item_embeddings_[4], atol=1e-5)
    with pytest.raises(IndexError):
        model.fold_in([90])


def test_checkerboard_each_users_top_item_is_from_their_group():
    rng = np.random.default_rng(1)
    group_u, group_i = np.arange(40) % 2, np.arange(50) % 2
    liked = (group_u[:, None] == group_i[None, :]) & (rng.random((40, 50)) < 0.6)
    model = SVDModel(factors=2, binary=True).fit(sp.csr_matrix(liked.astype(float)))
    top, _ = model.recommend(np.arange(40), k=3)
    assert np.all(group_i[top] == group_u[:, None])


def test_deterministic_signs_and_save_load_round_trip(tmp_path):
    matrix = _sparse_random()
    a = SVDModel(factors=6, binary=False).fit(matrix)
    b = SVDModel(factors=6, binary=False).fit(matrix)
    np.testing.assert_array_equal(a.item_embeddings_, b.item_embeddings_)
    loaded = Recommender.load(a.save(tmp_path / "svd.npz"))
    assert isinstance(loaded, SVDModel) and loaded.get_params() == a.get_params()
    np.testing.assert_array_equal(loaded.score([3, 4]), a.score([3, 4]))
    np.testing.assert_array_equal(loaded.fold_in([1, 2], [5, 3]), a.fold_in([1, 2], [5, 3]))


@pytest.mark.parametrize("params", [{"factors": 0}, {"factors": 91}, {"factors": 91, "binary": False}, {"factors": 3.0},
                                    {"binary": "no"}, {"random_state": -1}])
def test_bad_hyperparameters_raise(params):
    with pytest.raises(HyperparameterError):
        SVDModel(**params).fit(_sparse_random())


def test_top_n_floor_on_movielens_u1(ml100k):
    split = predefined_split(ml100k, "u1")
    model = SVDModel().fit(split.train)
    metrics = evaluate_model(model, split.test, k=10, beyond_accuracy=False)
    assert metrics["precision@10"] > 0.47  # measured 0.509 with the defaults (16 factors, 0/1)
