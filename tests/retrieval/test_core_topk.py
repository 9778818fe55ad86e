"""Deterministic exact top-k with exclusions."""
import numpy as np
import scipy.sparse as sp

from recsys_core.retrieval.topk import top_k


def test_ties_break_towards_the_smaller_index():
    idx, val = top_k(np.array([[1, 3, 3, 2, 3]]), 2)
    assert idx.tolist() == [[1, 2]] and val.tolist() == [[3, 3]]


def test_exclusions_by_sparse_and_dense_masks_and_padding():
    scores = np.array([[5.0, 4, 3], [1, 2, 3]])
    ex = sp.csr_matrix(np.array([[1, 0, 0], [0, 0, 1]]))
    assert top_k(scores, 2, ex)[0].tolist() == [[1, 2], [1, 0]]
    idx, val = top_k(scores, 3, np.array([[True, True, False], [False, False, False]]))
    assert idx.tolist() == [[2, -1, -1], [2, 1, 0]]
    assert np.isneginf(val[0, 1:]).all()


def test_matches_a_full_sort_on_random_data():
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 5, size=(50, 40)).astype(np.float32)  # many ties
    idx, _ = top_k(scores, 7)
    expected = np.lexsort((np.broadcast_to(np.arange(40), scores.shape), -scores), axis=1)[:, :7]
    np.testing.assert_array_equal(idx, expected)


def test_k_larger_than_catalogue_and_zero():
    assert top_k(np.array([2.0, 1.0]), 5)[0].tolist() == [[0, 1]]
    assert top_k(np.array([[2.0, 1.0]]), 0)[0].shape == (1, 0)
