"""UMAP through exact precomputed neighbours: known neighbours, and clusters that stay apart."""
import numpy as np

from recsys_core.projection import exact_neighbours, project


def test_exact_neighbours_put_self_first_and_match_brute_force():
    x = np.array([[0, 0], [1, 0], [0, 2], [5, 5]], dtype=np.float32)
    idx, dist, index = exact_neighbours(x, 3)
    assert index is None
    assert idx.tolist() == [[0, 1, 2], [1, 0, 2], [2, 0, 1], [3, 2, 1]]
    np.testing.assert_allclose(dist[0], [0, 1, 2], atol=1e-6)
    np.testing.assert_allclose(dist[3], [0, np.hypot(5, 3), np.hypot(4, 5)], atol=1e-5)
    idx, dist, _ = exact_neighbours(np.array([[1, 0], [2, 0], [0, 1]], np.float32), 2, "cosine")
    assert idx[:, 1].tolist() == [1, 0, 0]  # parallel vectors are cosine-identical
    np.testing.assert_allclose(dist[:, 1], [0, 0, 1], atol=1e-6)


def test_umap_keeps_planted_clusters_apart():
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=6.0, size=(4, 16))
    labels = np.repeat(np.arange(4), 60)
    x = (centres[labels] + rng.normal(size=(240, 16))).astype(np.float32)
    y = project(x, "umap", n_neighbors=10, random_state=0)
    assert y.shape == (240, 2) and np.isfinite(y).all()
    # Every point's 5 nearest neighbours on the map share its cluster.
    d = ((y[:, None, :] - y[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    nearest = np.argsort(d, axis=1)[:, :5]
    assert (labels[nearest] == labels[:, None]).mean() > 0.95
