"""Item-kNN on a matrix small enough to compute by hand.

Four users, five items: user 0 has items {0, 1}, user 1 {0, 1, 2}, user 2 {1, 2}, user 3 {3};
nobody has item 4. So |U_0| = 2, |U_1| = 3, |U_2| = 2, |U_3| = 1, and the co-raters are
|U_0 ∩ U_1| = 2, |U_0 ∩ U_2| = 1, |U_1 ∩ U_2| = 2; item 3 shares no user with any item.
"""
from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recsys_core.errors import DataError, HyperparameterError
from recsys_core.models import ItemKNN, Recommender
from recsys_core.models import knn as knn_module

HISTORIES = ([0, 1], [0, 1, 2], [1, 2], [3])
N_ITEMS = 5


def matrix(values=None) -> sp.csr_matrix:
    rows = np.repeat(np.arange(len(HISTORIES)), [len(h) for h in HISTORIES])
    cols = np.concatenate(HISTORIES)
    data = np.ones(len(cols), np.float32) if values is None else np.asarray(values, np.float32)
    return sp.csr_matrix((data, (rows, cols)), shape=(len(HISTORIES), N_ITEMS))


def by_hand(shrinkage: float) -> np.ndarray:
    """sim(i, j) = |U_i ∩ U_j| / (sqrt(|U_i| |U_j|) + shrinkage), written out."""
    s = np.zeros((N_ITEMS, N_ITEMS))
    s[0, 1] = s[1, 0] = 2 / (np.sqrt(2 * 3) + shrinkage)
    s[0, 2] = s[2, 0] = 1 / (np.sqrt(2 * 2) + shrinkage)
    s[1, 2] = s[2, 1] = 2 / (np.sqrt(3 * 2) + shrinkage)
    return s


@pytest.mark.parametrize("shrinkage", [0.0, 1.0, 10.0])
def test_similarities_are_the_shrunk_cosines_of_rater_sets(shrinkage):
    model = ItemKNN(neighbours=10, shrinkage=shrinkage).fit(matrix())
    s = model.similarity_
    assert sp.isspmatrix_csr(s) and s.dtype == np.float32 and s.shape == (N_ITEMS, N_ITEMS)
    np.testing.assert_allclose(s.toarray(), by_hand(shrinkage), rtol=1e-6)
    assert s.diagonal().sum() == 0 and s.nnz == 6  # only co-rated pairs are stored
    assert model.history_ and len(model.history_) == 1


def test_rating_values_count_only_as_interacted():
    rated = ItemKNN(shrinkage=1.0).fit(matrix([5, 1, 3, 4, 2, 1, 5, 2]))
    np.testing.assert_allclose(rated.similarity_.toarray(), by_hand(1.0), rtol=1e-6)


def test_each_item_keeps_its_largest_neighbours_ties_to_the_smaller_index():
    s = ItemKNN(neighbours=1, shrinkage=1.0).fit(matrix()).similarity_.toarray()
    a = 2 / (np.sqrt(6) + 1)  # sim(0, 1) = sim(1, 2) > sim(0, 2) = 1/3
    expected = np.zeros((N_ITEMS, N_ITEMS))
    expected[0, 1] = a  # item 0: 1 beats 2
    expected[1, 0] = a  # item 1: 0 and 2 tie, the smaller index wins
    expected[2, 1] = a  # item 2: 1 beats 0
    np.testing.assert_allclose(s, expected, rtol=1e-6)


def test_blocked_computation_gives_the_same_matrix(monkeypatch):
    whole = ItemKNN(neighbours=2, shrinkage=1.0).fit(matrix()).similarity_
    monkeypatch.setattr(knn_module, "BLOCK_ENTRIES", 1)  # one item row per block
    blocked = ItemKNN(neighbours=2, shrinkage=1.0).fit(matrix()).similarity_
    assert (whole != blocked).nnz == 0


def test_scores_are_the_history_times_the_similarity_matrix():
    model = ItemKNN(neighbours=10, shrinkage=1.0).fit(matrix())
    expected = matrix().toarray() @ by_hand(1.0)
    scores = model.score(np.arange(4))
    assert scores.dtype == np.float32
    np.testing.assert_allclose(scores, expected, rtol=1e-6)
    np.testing.assert_allclose(model.score([1], items=[2, 0]), expected[[1]][:, [2, 0]],
                               rtol=1e-6)
    np.testing.assert_allclose(model.predict([0, 2, 3], [2, 0, 4]),
                               [expected[0, 2], expected[2, 0], 0.0], rtol=1e-6)
    # User 0 (items 0, 1): item 2 gets 1/3 + 2/(sqrt 6 + 1); nothing reaches items 3 and 4.
    items, _ = model.recommend([0], k=3)
    np.testing.assert_array_equal(items[0], [2, 3, 4])


def test_a_new_user_is_their_history_vector():
    model = ItemKNN(neighbours=10, shrinkage=1.0).fit(matrix())
    vector = model.fold_in([0, 1], ratings=[5.0, 1.0])
    np.testing.assert_array_equal(vector, [1, 1, 0, 0, 0])
    np.testing.assert_allclose(model.score_embeddings(vector), model.score([0]), rtol=1e-6)
    with pytest.raises(DataError, match="ratings"):
        model.fold_in([0, 1], ratings=[5.0])
    with pytest.raises(IndexError):
        model.fold_in([N_ITEMS])
    with pytest.raises(DataError, match="entries"):
        model.score_embeddings(np.ones(3))


def test_related_items_are_the_kept_neighbours_without_the_item():
    model = ItemKNN(neighbours=10, shrinkage=1.0).fit(matrix())
    items, scores = model.related_items([0, 3, 1], k=3)
    a = 2 / (np.sqrt(6) + 1)
    np.testing.assert_array_equal(items, [[1, 2, -1], [-1, -1, -1], [0, 2, -1]])
    np.testing.assert_allclose(scores[0, :2], [a, 1 / 3], rtol=1e-6)
    assert np.all(np.isneginf(scores[:, 2])) and np.all(np.isneginf(scores[1]))
    assert items.dtype == np.int64 and scores.dtype == np.float32
    np.testing.assert_allclose(model.related_item_scores([0], [2, 1, 3]), [[1 / 3, a, 0.0]],
                               rtol=1e-6)
    np.testing.assert_array_equal(model.similar_items([0], k=2)[0], [[1, 2]])
    with pytest.raises(HyperparameterError, match="no embeddings"):
        model.similar_items([0], k=2, measure="dot")
    assert not ItemKNN.has_embeddings and not hasattr(model, "item_embeddings_")


def test_save_load_keeps_the_sparse_similarities(tmp_path):
    model = ItemKNN(neighbours=2, shrinkage=3.0).fit(matrix())
    loaded = Recommender.load(model.save(tmp_path / "knn.npz"))
    assert isinstance(loaded, ItemKNN) and loaded.get_params() == model.get_params()
    assert sp.isspmatrix_csr(loaded.similarity_) and loaded.similarity_.dtype == np.float32
    assert (loaded.similarity_ != model.similarity_).nnz == 0
    np.testing.assert_array_equal(loaded.score(np.arange(4)), model.score(np.arange(4)))
    for a, b in zip(loaded.related_items(np.arange(N_ITEMS), k=3),
                    model.related_items(np.arange(N_ITEMS), k=3)):
        np.testing.assert_array_equal(a, b)


def test_a_one_item_catalogue_has_no_neighbours():
    model = ItemKNN().fit(sp.csr_matrix(np.ones((3, 1), np.float32)))
    assert model.similarity_.shape == (1, 1) and model.similarity_.nnz == 0
    np.testing.assert_array_equal(model.score([0, 1]), [[0.0], [0.0]])
    np.testing.assert_array_equal(model.related_items([0], k=3)[0], [[-1]])


@pytest.mark.parametrize("params", [dict(neighbours=0), dict(shrinkage=-1.0),
                                    dict(neighbours=2.5)])
def test_bad_hyperparameters_are_refused(params):
    with pytest.raises(HyperparameterError):
        ItemKNN(**params).fit(matrix())


def test_the_memory_estimate_does_not_grow_past_the_catalogue():
    """Keeping more neighbours than there are items costs what keeping all of them does, and the
    dense work is one bounded block, not n_items^2."""
    small = ItemKNN(neighbours=10 ** 9).estimate_fit_bytes(1000, 2000, 50_000)
    assert small == ItemKNN(neighbours=1999).estimate_fit_bytes(1000, 2000, 50_000)
    big = ItemKNN().estimate_fit_bytes(10_000, 17_600, 100_000)
    assert big < 17_600 ** 2 * 4 / 10  # a tenth of one dense float32 n_items^2 matrix
