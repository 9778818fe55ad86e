"""Approximate search: recall floor against exact search for every measure, exclusions, errors."""
import numpy as np
import pytest
import scipy.sparse as sp

from recsys_core.errors import HyperparameterError, NotFittedError
from recsys_core.retrieval.ann import ANNIndex, recall_at_k
from recsys_core.retrieval.similarity import MEASURES
from recsys_core.retrieval.topk import exact_search


@pytest.fixture(scope="module")
def catalogue():
    """2,000 clustered 16-d items with log-normal norms and 100 queries, fixed seed."""
    rng = np.random.default_rng(42)
    centres = rng.standard_normal((40, 16))
    items = (centres[rng.integers(0, 40, 2000)] + 0.7 * rng.standard_normal((2000, 16)))
    items *= rng.lognormal(0, 0.3, (2000, 1))
    queries = centres[rng.integers(0, 40, 100)] + 0.7 * rng.standard_normal((100, 16))
    return items.astype(np.float32), queries.astype(np.float32)


@pytest.mark.parametrize("index_type", ["hnsw", "ivf"])
@pytest.mark.parametrize("measure", MEASURES)
def test_recall_stays_above_a_floor_and_scores_are_exact(catalogue, measure, index_type):
    items, queries = catalogue
    index = ANNIndex(measure, alpha=0.5, index_type=index_type, ef_search=128, ef_construction=40,
                     n_lists=45,
                     n_probe=16, n_threads=1).fit(items)
    idx, val = index.search(queries, 10)
    exact_idx, exact_val = exact_search(queries, items, 10, measure, 0.5)
    assert recall_at_k(idx, exact_idx) >= 0.9
    same = idx == exact_idx
    np.testing.assert_allclose(val[same], exact_val[same], rtol=1e-4, atol=1e-4)
    assert (np.diff(val, axis=1) <= 1e-6).all()  # best first


def test_exclusions_are_never_returned(catalogue):
    items, queries = catalogue
    index = ANNIndex("cosine", n_threads=1).fit(items)
    exact_idx, _ = exact_search(queries, items, 10, "cosine")
    seen = sp.csr_matrix((np.ones(exact_idx.size), exact_idx.ravel(),
                          np.arange(0, exact_idx.size + 1, 10)), shape=(100, len(items)))
    idx, _ = index.search(queries, 10, exclude=seen)
    assert not (np.asarray(seen[np.repeat(np.arange(100), 10), idx.ravel()]).ravel() != 0).any()
    assert (idx >= 0).all()
    banned = exact_idx[:, 0]
    idx, _ = index.search(queries, 5, exclude=banned)
    assert not np.isin(idx, banned).any()


def test_small_catalogue_pads_and_errors():
    items = np.eye(3, dtype=np.float32)
    idx, val = ANNIndex("dot", n_threads=1).fit(items).search(np.ones(3), 5, exclude=np.array([1]))
    assert idx.shape == (1, 3) and idx[0, -1] == -1 and np.isneginf(val[0, -1])
    with pytest.raises(NotFittedError):
        ANNIndex().search(np.ones(3))
    with pytest.raises(HyperparameterError):
        ANNIndex(measure="hamming").fit(items)
    with pytest.raises(HyperparameterError):
        ANNIndex(index_type="lsh").fit(items)
    assert recall_at_k(np.array([[1, 2, -1]]), np.array([[2, 3, 1]])) == pytest.approx(2 / 3)
