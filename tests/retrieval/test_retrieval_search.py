"""Exact search for any measure, exclusions, and related items through the same code."""
import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings, strategies as st

from recsys_core.retrieval.similarity import MEASURES, similarity_scores
from recsys_core.retrieval.topk import exact_search, related_items

RNG = np.random.default_rng(0)
ITEMS = RNG.standard_normal((40, 5)).astype(np.float32)
QUERIES = RNG.standard_normal((9, 5)).astype(np.float32)


@pytest.mark.parametrize("measure", MEASURES)
def test_matches_a_full_sort_in_small_batches(measure):
    idx, val = exact_search(QUERIES, ITEMS, 6, measure, 0.4, batch_size=4)
    full = similarity_scores(QUERIES, ITEMS, measure, 0.4)
    expected = np.lexsort((np.broadcast_to(np.arange(40), full.shape), -full), axis=1)[:, :6]
    np.testing.assert_array_equal(idx, expected)
    np.testing.assert_allclose(val, np.take_along_axis(full, expected, 1), rtol=1e-6)


def test_exclusion_forms():
    per_query = sp.random(9, 40, density=0.3, random_state=1, format="csr")
    idx, _ = exact_search(QUERIES, ITEMS, 10, "cosine", exclude=per_query, batch_size=2)
    for row, items in enumerate(idx):
        assert not set(items) & set(per_query[row].indices)
    banned = np.array([0, 5, 7])
    idx, _ = exact_search(QUERIES, ITEMS, 40, "dot", exclude=banned)
    assert not np.isin(idx, banned).any() and (idx[:, -3:] == -1).all()
    mask = np.zeros(40, bool)
    mask[banned] = True
    np.testing.assert_array_equal(exact_search(QUERIES, ITEMS, 40, "dot", exclude=mask)[0], idx)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 15), st.sampled_from(MEASURES),
       st.lists(st.integers(0, 39), max_size=30))
def test_excluded_items_never_leak(k, measure, banned):
    idx, val = exact_search(QUERIES, ITEMS, k, measure, exclude=np.array(banned, dtype=np.int64))
    assert not np.isin(idx, banned).any()
    allowed = 40 - len(set(banned))
    assert ((idx >= 0).sum(axis=1) == min(k, allowed)).all()


def test_related_items_leave_the_item_out_and_use_the_measure():
    emb = np.array([[1.0, 0.0], [0.9, 0.1], [5.0, 0.0], [0.0, 1.0]])
    idx, _ = related_items(emb, [0], k=3, measure="cosine")
    assert idx[0, 0] == 2 and 0 not in idx[0]  # same direction as item 0
    idx, _ = related_items(emb, [0], k=3, measure="euclidean")
    assert idx[0, 0] == 1
    idx, _ = related_items(emb, [0, 1], k=2, measure="dot", exclude=np.array([2]))
    assert idx.tolist() == [[1, 3], [0, 3]]
    with pytest.raises(IndexError):
        related_items(emb, [4])
