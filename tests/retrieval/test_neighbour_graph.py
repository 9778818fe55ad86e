"""The exact kNN graph (float32 products nominate, float64 decides) returns exactly the
neighbours and order of a brute-force float64 sort: self first, then by distance, ties by the
smaller index, on random data, tied data, duplicates and far-off-centre data."""
import numpy as np
import pytest
from scipy.spatial.distance import cdist

from recsys_core.evaluation.projection import exact_neighbours
from recsys_core.retrieval.neighbour_graph import knn_graph


def _brute_force(x: np.ndarray, k: int, metric: str):
    """Self first, then all others sorted by (float64 distance, index)."""
    x64 = np.asarray(x, np.float32).astype(np.float64)
    n = len(x64)
    if metric == "cosine":
        norms = np.sqrt(np.einsum("ij,ij->i", x64, x64))
        dots = x64 @ x64.T  # exact for the small integers used with ties
        with np.errstate(invalid="ignore", divide="ignore"):
            cos = dots / (norms[:, None] * norms[None, :])
        cos[(norms[:, None] == 0) | (norms[None, :] == 0)] = 0.0
        key = -cos
    else:
        key = cdist(x64, x64, "sqeuclidean")
    np.fill_diagonal(key, -np.inf)  # self first, even before an identical duplicate
    order = np.lexsort((np.broadcast_to(np.arange(n), key.shape), key), axis=1)[:, :k]
    dist = np.take_along_axis(key, order, axis=1)
    dist = np.maximum(1.0 + dist if metric == "cosine" else np.sqrt(np.maximum(dist, 0.0)), 0.0)
    dist[:, 0] = 0.0
    return order, dist


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_random_data_gives_the_brute_force_neighbours_in_order(metric):
    # 1,500 continuous points: float32 scores alone (the old path) misordered near-equal pairs.
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=3.0, size=(10, 16))
    x = (centres[rng.integers(0, 10, 1500)] + rng.normal(size=(1500, 16))).astype(np.float32)
    idx, dist = knn_graph(x, 31, metric)
    ref_idx, ref_dist = _brute_force(x, 31, metric)
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_allclose(dist, ref_dist, rtol=1e-6, atol=1e-6)
    assert idx.dtype == np.int64 and dist.dtype == np.float32


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_ties_and_duplicates_break_by_the_smaller_index_with_self_first(metric):
    # Coordinates in {-1, 0, 1, 2} over 3 dimensions: 64 distinct points for 400 rows, so most
    # distances tie and every point has duplicates (zero vectors included, for cosine).
    rng = np.random.default_rng(1)
    x = rng.integers(-1, 3, size=(400, 3)).astype(np.float32)
    for k in (1, 2, 7, 50, 400):
        idx, dist = knn_graph(x, k, metric)
        ref_idx, ref_dist = _brute_force(x, k, metric)
        np.testing.assert_array_equal(idx, ref_idx)
        np.testing.assert_allclose(dist, ref_dist, rtol=1e-6, atol=1e-6)


def test_points_far_from_the_origin_keep_exact_neighbours():
    # Offset 1,000 with a spread of 1: uncentred float32 products would lose the distances.
    rng = np.random.default_rng(2)
    x = (1000.0 + rng.normal(size=(600, 8))).astype(np.float32)
    idx, dist = knn_graph(x, 12)
    ref_idx, ref_dist = _brute_force(x, 12, "euclidean")
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_allclose(dist, ref_dist, rtol=1e-5)


def test_exact_neighbours_serves_umap_and_tsne_from_the_same_graph():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(300, 5)).astype(np.float32)
    idx, dist, index = exact_neighbours(x, 1000)  # k clipped to n
    assert index is None and idx.shape == (300, 300)
    np.testing.assert_array_equal(idx, _brute_force(x, 300, "euclidean")[0])
    with pytest.raises(ValueError):
        knn_graph(x, 0)
