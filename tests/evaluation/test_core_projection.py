"""UMAP and t-SNE from exact neighbour graphs: known neighbours, a graph reused across settings,
clusters that stay apart, the same map for the same seed, and the kNN preservation measure."""
import numpy as np
import pytest

import recsys_core.evaluation.projection as projection_module
from recsys_core.errors import HyperparameterError
from recsys_core.evaluation.projection import (NeighbourGraphs, exact_neighbours, knn_preservation,
                                               project)


def _clusters(n_per=60, n_clusters=4, d=16, latent=3, seed=0):
    """Planted clusters, each spread over a few directions (so neighbourhoods mean something)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=6.0, size=(n_clusters, d))
    bases = rng.normal(size=(n_clusters, latent, d))
    labels = np.repeat(np.arange(n_clusters), n_per)
    z = rng.normal(size=(len(labels), latent))
    x = centres[labels] + np.einsum("nl,nld->nd", z, bases[labels]) + 0.1 * rng.normal(
        size=(len(labels), d))
    return x.astype(np.float32), labels


def _same_cluster_share(coords, labels, k=5):
    d = ((coords[:, None, :] - coords[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    nearest = np.argsort(d, axis=1)[:, :k]
    return (labels[nearest] == labels[:, None]).mean()


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


def test_umap_keeps_planted_clusters_apart_and_reuses_its_neighbour_graph():
    """One numba compile for the file: new min_dist, fewer neighbours and a repeat all lay out
    from the first graph, and the repeat gives the same map."""
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=6.0, size=(4, 16))
    labels = np.repeat(np.arange(4), 60)
    x = (centres[labels] + rng.normal(size=(240, 16))).astype(np.float32)
    graphs, reports = NeighbourGraphs(), []
    y = project(x, "umap", n_neighbors=10, random_state=0, graphs=graphs,
                progress=lambda fraction, stage: reports.append((fraction, stage)))
    assert y.shape == (240, 2) and np.isfinite(y).all()
    # Every point's 5 nearest neighbours on the map share its cluster.
    assert _same_cluster_share(y, labels) > 0.95
    fractions = [f for f, _ in reports]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert (1.0, "layout") in reports  # UMAP's epochs counted to the last
    packed = project(x, "umap", n_neighbors=10, min_dist=0.8, spread=1.5, n_epochs=50,
                     graphs=graphs)
    fewer = project(x, "umap", n_neighbors=5, graphs=graphs)
    assert graphs.builds_ == 1
    assert _same_cluster_share(packed, labels) > 0.9 and _same_cluster_share(fewer, labels) > 0.9
    np.testing.assert_array_equal(project(x, "umap", n_neighbors=10, graphs=graphs), y)
    assert graphs.builds_ == 1


def test_neighbour_graphs_serve_smaller_k_from_a_larger_graph():
    x, _ = _clusters(n_per=30, seed=3)
    graphs = NeighbourGraphs(max_entries=2)
    idx20, dist20 = graphs.neighbours(x, 20)
    idx5, dist5 = graphs.neighbours(x, 5)
    assert graphs.builds_ == 1
    exact_idx, exact_dist, _ = exact_neighbours(x, 5)
    np.testing.assert_array_equal(idx5, exact_idx)
    np.testing.assert_allclose(dist5, exact_dist, rtol=1e-6)
    np.testing.assert_array_equal(idx5, idx20[:, :5])
    graphs.neighbours(x, 30)  # larger than kept: computed again, then kept instead
    graphs.neighbours(x, 25)
    assert graphs.builds_ == 2
    graphs.neighbours(x, 5, "cosine")  # another metric is another graph
    graphs.neighbours(x + 1.0, 5)  # other contents too; the least recently used is dropped
    assert graphs.builds_ == 4
    graphs.neighbours(x, 5)
    assert graphs.builds_ == 5
    assert graphs.neighbours(x, 500)[0].shape == (120, 120)  # k clipped to n


def test_tsne_keeps_clusters_neighbourhoods_and_is_reproducible():
    x, labels = _clusters(seed=1)
    graphs, reports = NeighbourGraphs(), []
    y = project(x, "tsne", perplexity=20, graphs=graphs,
                progress=lambda fraction, stage: reports.append((fraction, stage)))
    assert y.shape == (240, 2) and y.dtype == np.float32 and np.isfinite(y).all()
    assert _same_cluster_share(y, labels) > 0.95
    # Measured 0.754 here (scikit-learn's TSNE: 0.758); a random map scores about 10 / 240.
    assert knn_preservation(x, y) > 0.7
    fractions = [f for f, _ in reports]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert {"early exaggeration", "layout"} <= {stage for _, stage in reports}
    np.testing.assert_array_equal(project(x, "tsne", perplexity=20, graphs=graphs), y)
    assert graphs.builds_ == 1


def test_fft_tsne_path_separates_clusters(monkeypatch):
    """The FFT gradient (used from 10,000 points) on a small set, with fewer iterations."""
    monkeypatch.setattr(projection_module, "TSNE_FFT_FROM", 0)
    monkeypatch.setattr(projection_module, "TSNE_EARLY_ITERATIONS", 100)
    monkeypatch.setattr(projection_module, "TSNE_ITERATIONS", 150)
    x, labels = _clusters(n_per=50, seed=2)
    y = project(x, "tsne", perplexity=15)
    assert np.isfinite(y).all() and _same_cluster_share(y, labels) > 0.95
    assert knn_preservation(x, y) > 0.7  # measured 0.776 (scikit-learn's TSNE: 0.793)
    np.testing.assert_array_equal(project(x, "tsne", perplexity=15), y)


def test_knn_preservation_of_exact_random_and_duplicated_maps():
    rng = np.random.default_rng(4)
    plane = rng.normal(size=(300, 2))
    lifted = np.hstack([plane, np.zeros((300, 3))])
    assert knn_preservation(lifted, plane) == 1.0
    shuffled = knn_preservation(lifted, rng.permutation(plane))
    assert shuffled < 0.1  # chance level is 10 / 299
    # Duplicated points: a point never counts itself, and the share never exceeds 1.
    dup = np.repeat(plane[:20], 3, axis=0)
    assert 0.5 < knn_preservation(dup, dup, k=4) <= 1.0
    assert knn_preservation(plane, plane, k=1000) == 1.0  # k clipped to n - 1
    with pytest.raises(HyperparameterError):
        knn_preservation(plane, plane[:10])


def test_tsne_on_tiny_and_degenerate_sets():
    """Perplexity is clipped to (n - 1) / 3 and coinciding points get a random start."""
    for n in (3, 5):
        x = np.random.default_rng(n).normal(size=(n, 4)).astype(np.float32)
        for metric in ("euclidean", "cosine"):
            y = project(x, "tsne", metric=metric)
            assert y.shape == (n, 2) and np.isfinite(y).all()
    assert np.isfinite(project(np.ones((20, 4)), "tsne")).all()
    with pytest.raises(HyperparameterError):
        project(np.ones((5, 3)), "tsne", perplexity=0)
    with pytest.raises(HyperparameterError):
        project(np.ones((5, 3)), "umap", min_dist=1.5, spread=1.0)


# ---------------------------------------------------------------- wide embeddings
def _low_rank(n, d, seed=0):
    rng = np.random.default_rng(seed)
    x = (rng.normal(size=(n, 3)) * [10.0, 5.0, 2.0]) @ rng.normal(size=(3, d))
    return (x + 0.1 * rng.normal(size=(n, d))).astype(np.float32)


def test_pca_of_wide_embeddings_never_runs_a_full_width_svd(monkeypatch):
    """An EASE-like matrix (as many columns as rows, in the thousands) gets its two components
    from products with the matrix, not from an SVD of it (O(n d^2): ten minutes at 9,742^2);
    the map equals the exact one."""
    x = _low_rank(1200, 1200)
    monkeypatch.setattr(projection_module, "EXACT_PCA_WIDTH", 10**6)
    exact = project(x, "pca")  # a full SVD, for this comparison only
    shapes = []
    real_svd = np.linalg.svd

    def recording_svd(a, *args, **kwargs):
        shapes.append(np.shape(a))
        return real_svd(a, *args, **kwargs)

    monkeypatch.setattr(projection_module, "EXACT_PCA_WIDTH", 256)
    monkeypatch.setattr(np.linalg, "svd", recording_svd)
    bounded = project(x, "pca")
    assert shapes and all(min(s) <= 12 for s in shapes), shapes
    np.testing.assert_allclose(bounded, exact, atol=1e-3 * np.abs(exact).max())


def test_umap_and_tsne_of_wide_embeddings_lay_out_at_most_map_width_columns(monkeypatch):
    """The neighbour graph (O(n^2 d)) is built on the MAP_WIDTH leading components of wider
    embeddings, with a progress stage saying so; narrower ones are used as they are."""
    widths = []

    class RecordingGraphs(NeighbourGraphs):
        def neighbours(self, x, k, metric="euclidean"):
            widths.append(x.shape[1])
            return super().neighbours(x, k, metric)

    monkeypatch.setattr(projection_module, "MAP_WIDTH", 16)
    stages = []
    x = _low_rank(150, 400)
    coords = project(x, "tsne", perplexity=10, graphs=RecordingGraphs(),
                     progress=lambda f, stage: stages.append(stage))
    assert coords.shape == (150, 2) and widths == [16]
    assert stages[0] == "reducing 400 dimensions to 16"
    project(x[:, :12], "tsne", perplexity=10, graphs=RecordingGraphs())
    assert widths == [16, 12]


def test_identical_rows_share_one_point_laid_out_once(monkeypatch):
    """Copies of a row (items with the same genres under content filtering) get the point of
    the one distinct row: the layout sees each distinct row once."""
    x, labels = _clusters(n_per=30, n_clusters=3)
    copies = np.repeat(np.arange(len(x)), 1 + np.arange(len(x)) % 3)  # 1 to 3 copies each
    laid_out = []
    real_umap = projection_module._umap
    monkeypatch.setattr(projection_module, "_umap",
                        lambda rows, *a: laid_out.append(len(rows)) or real_umap(rows, *a))
    coords = project(x[copies], "umap", n_epochs=50)
    assert laid_out == [len(x)]
    first = {}
    for row, point in zip(copies, coords):
        np.testing.assert_array_equal(point, first.setdefault(row, point))
    assert _same_cluster_share(coords, labels[copies]) > 0.9
    # Fewer than three distinct rows: a line, one point per distinct row.
    two = np.array([[0, 1], [2, 3], [0, 1], [0, 1]], np.float32)
    line = project(two, "tsne")
    assert (line[0] == line[2]).all() and (line[0] == line[3]).all() and (line[0] != line[1]).any()
