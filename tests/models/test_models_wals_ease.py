"""EASE (closed-form item-item model): known answer, embedding convention, fold-in, persistence,
its largest weights kept sparse, stage progress, an inverse that leaves the interpreter to other
threads, bad hyperparameters and an ml-100k quality floor."""
import threading
import time

import numpy as np
import pytest
import scipy.sparse as sp

from recsys_core.errors import DataError, HyperparameterError
from recsys_core.evaluation.metrics import recall_at_k
from recsys_core.evaluation.split import holdout_split
from recsys_core.models import EASE, MODEL_REGISTRY, Recommender
from recsys_core.models.ease import MIRROR_BLOCK, largest_weights, symmetric_positive_inverse


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


def dense(weights) -> np.ndarray:
    return weights.toarray() if sp.issparse(weights) else np.asarray(weights)


@pytest.mark.parametrize("weights_per_item", [None, 5])  # dense B; sparse, every weight kept
def test_weights_are_the_closed_form_solution(weights_per_item):
    data = small_history()
    model = EASE(regularization=0.5, weights_per_item=weights_per_item).fit(data)
    assert sp.issparse(model.item_weights_) == (weights_per_item is not None)
    x = (data.toarray() > 0).astype(np.float64)
    # Direct solution of the constrained least squares, column by column: for item j, regress
    # x_j on the other items' columns with ridge penalty 0.5.
    expected = np.zeros((5, 5))
    for j in range(5):
        others = [i for i in range(5) if i != j]
        a = x[:, others]
        expected[others, j] = np.linalg.solve(a.T @ a + 0.5 * np.eye(4), a.T @ x[:, j])
    np.testing.assert_allclose(dense(model.item_weights_), expected, atol=1e-5)
    assert np.all(np.diag(dense(model.item_weights_)) == 0)
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
    weights = dense(model.item_weights_)
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
                                    {"regularization": "big"}, {"use_ratings": "yes"},
                                    {"weights_per_item": 0}, {"weights_per_item": 2.5}])
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


def test_largest_weights_keeps_the_entries_of_largest_magnitude():
    weights = np.array([[0.0, 0.5, -0.9, 0.1],
                        [0.2, 0.0, 0.05, -0.3],
                        [0.0, 0.7, 0.0, 0.01],
                        [-0.6, 0.0, 0.4, 0.0]])
    kept = largest_weights(weights, 4)
    assert kept.dtype == np.float32 and kept.nnz == 4
    np.testing.assert_array_equal(kept.toarray(), np.where(np.abs(weights) >= 0.5, weights, 0)
                                  .astype(np.float32))
    every = largest_weights(weights, 16)  # more than there are: every non-zero, no zeros stored
    assert every.nnz == np.count_nonzero(weights)
    np.testing.assert_array_equal(every.toarray(), weights.astype(np.float32))


def test_sparse_weights_are_the_largest_of_the_dense_solution_and_score_with_them():
    """weights_per_item=1 keeps the 5 largest |B_ij| of the 5-item B; every scoring path uses
    exactly those weights."""
    data = small_history()
    full = dense(EASE(regularization=0.5, weights_per_item=None).fit(data).item_weights_)
    model = EASE(regularization=0.5, weights_per_item=1).fit(data)
    weights = model.item_weights_
    assert sp.issparse(weights) and weights.nnz == 5
    threshold = np.sort(np.abs(full).ravel())[-5]
    np.testing.assert_array_equal(weights.toarray(), np.where(np.abs(full) >= threshold, full, 0))
    x = (data.toarray() > 0).astype(np.float32)
    np.testing.assert_allclose(model.score(np.arange(6)), x @ weights.toarray(), atol=1e-6)
    np.testing.assert_allclose(model.score([1, 4], items=[3, 0]),
                               (x @ weights.toarray())[[1, 4]][:, [3, 0]], atol=1e-6)
    np.testing.assert_allclose(model.predict([1, 4], [3, 0]),
                               model.score([1, 4])[[0, 1], [3, 0]], atol=1e-6)
    np.testing.assert_allclose(model.score_embeddings(model.fold_in([0, 1, 2])),
                               model.score([1]), atol=1e-6)
    np.testing.assert_array_equal(model.related_item_scores([1, 3]), weights.toarray()[[1, 3]])
    np.testing.assert_allclose(model.user_embeddings_ @ model.item_embeddings_.T,
                               model.score(np.arange(6)), atol=1e-6)
    # The objective is the exact solution's (the app shows it as the fit's result).
    assert model.history_[0]["total"] == pytest.approx(
        EASE(regularization=0.5, weights_per_item=None).fit(data).history_[0]["total"])


def test_sparse_run_loads_back_with_the_same_recommendations(tmp_path):
    """A 600-item catalogue with 20 weights per item keeps 3% of B; the saved file is a few
    times smaller than the dense model's, and the loaded model recommends the same lists."""
    rng = np.random.default_rng(0)
    data = sp.random(300, 600, density=0.05, random_state=rng, format="csr",
                     data_rvs=lambda n: np.ones(n), dtype=np.float32)
    model = EASE(regularization=10.0, weights_per_item=20).fit(data)
    assert model.item_weights_.nnz <= 20 * 600 + 600  # a few ties at the threshold at most
    path = model.save(tmp_path / "sparse.npz")
    loaded = Recommender.load(path)
    assert sp.issparse(loaded.item_weights_) and loaded.weights_per_item == 20
    users = np.arange(300)
    np.testing.assert_array_equal(loaded.recommend(users, k=10)[0], model.recommend(users, k=10)[0])
    np.testing.assert_array_equal(loaded.score(users), model.score(users))
    full = EASE(regularization=10.0, weights_per_item=None).fit(data)
    full_path = full.save(tmp_path / "dense.npz")
    assert path.stat().st_size * 4 < full_path.stat().st_size
    assert Recommender.load(full_path).weights_per_item is None


def test_a_dense_run_saved_before_weights_per_item_loads_as_dense(tmp_path):
    model = EASE(regularization=2.0, weights_per_item=None).fit(small_history())
    path = model.save(tmp_path / "old.npz",  # run.json params of an older version: no such key
                      extra_metadata={"params": {"regularization": 2.0, "use_ratings": False}})
    loaded = Recommender.load(path)
    assert isinstance(loaded.item_weights_, np.ndarray) and loaded.weights_per_item is None
    np.testing.assert_array_equal(loaded.score(np.arange(6)), model.score(np.arange(6)))


def test_the_fit_reports_its_stages_then_its_one_solution():
    reports = []
    model = EASE(regularization=1.0).fit(small_history(), callback=reports.append)
    assert [r.stage for r in reports] == [*EASE.fit_stages, ""]
    assert all((r.epoch, r.n_epochs, r.losses) == (0, 1, {}) for r in reports[:-1])
    assert (reports[-1].epoch, reports[-1].n_epochs) == (1, 1)
    assert set(reports[-1].losses) == {"observed", "regularization", "total"}
    assert [r.elapsed for r in reports] == sorted(r.elapsed for r in reports)
    assert len(model.history_) == 1  # stage reports are progress, not history


def test_other_threads_run_while_the_inverse_runs():
    """SciPy's LAPACK wrappers hold the interpreter lock for the whole call (a 9,125-item
    inverse froze the app's page for ~40 s); the inverse must let a ticking thread tick."""
    n = 2000
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n))
    matrix = a @ a.T + n * np.eye(n)
    gaps, done = [], threading.Event()

    def tick():
        last = time.perf_counter()
        while not done.is_set():
            time.sleep(0.005)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    ticker = threading.Thread(target=tick)
    ticker.start()
    time.sleep(0.05)
    start = time.perf_counter()
    symmetric_positive_inverse(matrix)
    seconds = time.perf_counter() - start
    done.set()
    ticker.join()
    assert seconds > 0.1, seconds  # long enough for the check to mean something
    assert max(gaps) < max(0.5 * seconds, 0.05), (max(gaps), seconds)
