"""EASE (closed-form item-item model): known answer, embedding convention, fold-in, persistence,
bad hyperparameters and an ml-100k quality floor."""
import numpy as np
import pytest
import scipy.sparse as sp

from recsys_core.errors import DataError, HyperparameterError
from recsys_core.evaluation.metrics import recall_at_k
from recsys_core.evaluation.split import holdout_split
from recsys_core.models import EASE, MODEL_REGISTRY, Recommender
from recsys_core.models.ease import MIRROR_BLOCK, symmetric_positive_inverse


def small_history():
    dense = np.array([[1, 1, 0, 0, 0],
                      [1, 1, 1, 0, 0],
                      [0, 1, 1, 0, 0],
                      [0, 0, 0, 1, 1],
                      [0, 0, 1, 1, 1],
                      [0, 0, 0, 0, 1]], np.float32)
    return sp.csr_matrix(dense * np.array([5, 4, 3, 2, 1], np.float32))  # ratings, not just 1s


def test_registered():
    assert MODEL_REGISTRY["ease"] is EASE


def test_weights_are_the_closed_form_solution():
    data = small_history()
    model = EASE(regularization=0.5).fit(data)
    x = (data.toarray() > 0).astype(np.float64)
    # Direct solution of the constrained least squares, column by column: for item j, regress
    # x_j on the other items' columns with ridge penalty 0.5.
    expected = np.zeros((5, 5))
    for j in range(5):
        others = [i for i in range(5) if i != j]
        a = x[:, others]
        expected[others, j] = np.linalg.solve(a.T @ a + 0.5 * np.eye(4), a.T @ x[:, j])
    np.testing.assert_allclose(model.item_weights_, expected, atol=1e-5)
    assert np.all(np.diag(model.item_weights_) == 0)
    residual = x - x @ expected
    assert model.history_[0]["observed"] == pytest.approx(np.sum(residual ** 2), rel=1e-5)
    assert model.history_[0]["regularization"] == pytest.approx(0.5 * np.sum(expected ** 2),
                                                                rel=1e-5)


@pytest.mark.parametrize("n", [1, 7, MIRROR_BLOCK + 37])  # one block, and rows of two blocks
def test_symmetric_positive_inverse_fills_both_triangles_in_place(n):
    rng = np.random.default_rng(n)
    a = rng.standard_normal((n, n))
    matrix = a @ a.T + n * np.eye(n)
    expected = np.linalg.inv(matrix)
    work = matrix.copy()
    inverse = symmetric_positive_inverse(work)
    np.testing.assert_allclose(inverse, expected, rtol=1e-9, atol=1e-12)
    assert np.shares_memory(inverse, work) and inverse.flags.c_contiguous


def test_symmetric_positive_inverse_refuses_a_matrix_that_is_not_positive_definite():
    with pytest.raises(DataError, match="not positive definite"):
        symmetric_positive_inverse(np.array([[1.0, 2.0], [2.0, 1.0]]))


def test_embeddings_factorise_the_scores_and_fold_in_is_the_history():
    data = small_history()
    model = EASE(regularization=1.0).fit(data)
    np.testing.assert_allclose(model.user_embeddings_ @ model.item_embeddings_.T,
                               model.score(np.arange(6)), atol=1e-6)
    np.testing.assert_allclose(model.predict([1, 4], [3, 0]),
                               model.score([1, 4])[[0, 1], [3, 0]], atol=1e-6)
    vector = model.fold_in([0, 1, 2])
    np.testing.assert_array_equal(vector, [1, 1, 1, 0, 0])
    np.testing.assert_allclose(model.score_embeddings(vector), model.score([1]), atol=1e-6)
    # Users 0 and 2 (items 0-2 cluster) get item 2 / item 0 before the other cluster.
    items, _ = model.recommend([0, 2], k=1)
    np.testing.assert_array_equal(items[:, 0], [2, 0])


def test_use_ratings_weighs_the_history():
    model = EASE(regularization=1.0, use_ratings=True).fit(small_history())
    np.testing.assert_array_equal(model.fold_in([0, 3], [5.0, 2.0]), [5, 0, 0, 2, 0])
    np.testing.assert_allclose(model.user_embeddings_, small_history().toarray())


def test_related_items_follow_the_learned_weights():
    """Row i of B (how much having i votes for each item) ranks i's related items; the item
    itself (B's zero diagonal) is left out."""
    model = EASE(regularization=0.5).fit(small_history())
    weights = model.item_weights_
    np.testing.assert_array_equal(model.related_item_scores([1, 3]), weights[[1, 3]])
    np.testing.assert_array_equal(model.related_item_scores([1], [4, 0]), weights[[1]][:, [4, 0]])
    items, scores = model.related_items(np.arange(5), k=4)
    for i in range(5):
        others = [j for j in range(5) if j != i]
        expected = sorted(others, key=lambda j: (-weights[i, j], j))
        np.testing.assert_array_equal(items[i], expected)
        np.testing.assert_array_equal(scores[i], weights[i, expected])
    np.testing.assert_array_equal(items[[0, 3], 0], [1, 4])  # each within its own cluster
    assert EASE.related_items_source == "the learned item-item weights"


def test_save_load_round_trip(tmp_path):
    model = EASE(regularization=2.0).fit(small_history())
    loaded = Recommender.load(model.save(tmp_path / "ease.npz"))
    assert isinstance(loaded, EASE) and loaded.regularization == 2.0
    np.testing.assert_array_equal(loaded.score(np.arange(6)), model.score(np.arange(6)))
    np.testing.assert_array_equal(loaded.item_embeddings_, model.item_embeddings_)


@pytest.mark.parametrize("params", [{"regularization": 0}, {"regularization": -3},
                                    {"regularization": "big"}, {"use_ratings": "yes"}])
def test_bad_hyperparameters_raise(params):
    with pytest.raises(HyperparameterError):
        EASE(**params).fit(small_history())


def test_ml100k_quality_floor(ml100k):
    split = holdout_split(ml100k, test_fraction=0.2, seed=0)
    model = EASE().fit(split.train)
    test = split.test.ratings
    users = np.flatnonzero(np.diff(test.indptr) > 0)
    recommended, _ = model.recommend(users, k=20)
    recall = recall_at_k(recommended, test[users], 20)
    # Measured 0.449 with the default regularization (popularity 0.222); the floor leaves a margin.
    assert recall > 0.42, recall
