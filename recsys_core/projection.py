"""Two-dimensional maps of embeddings, and the course's norm-versus-popularity diagnostic.

``project`` turns (n, d) embeddings into (n, 2) coordinates with UMAP (neighbourhoods kept, the
default), t-SNE (local clusters, slower) or PCA (the linear view, instant). The app shows the PCA
map at once while UMAP compiles (numba compiles UMAP's kernels on the first call in a process).
"""
from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
from scipy.stats import spearmanr

from .errors import HyperparameterError
from .models.base import check_param
from .retrieval import exact_search
from .similarity import row_norms

PROJECTION_METHODS = ("umap", "tsne", "pca")
#: Layout epochs. UMAP's default for under 10,000 points is 500; 200 (its default for larger
#: sets) gives the same neighbourhoods at 40% of the layout time, which matters for a live page.
UMAP_EPOCHS = 200


def project(embeddings: np.ndarray, method: str = "umap", *, n_neighbors: int = 15,
            min_dist: float = 0.1, perplexity: float = 30.0, metric: str = "euclidean",
            random_state: int = 0) -> np.ndarray:
    """Coordinates in 2D of each embedding row.

    Parameters
    ----------
    embeddings : ndarray, shape (n, d)
    method : {"umap", "tsne", "pca"}
    n_neighbors, min_dist : UMAP's neighbourhood size (clipped to n - 1) and packing distance.
    perplexity : t-SNE's effective number of neighbours (clipped below n).
    metric : {"euclidean", "cosine"}
        Distance UMAP and t-SNE preserve; cosine ignores the norms (PCA is always linear).
    random_state : int
        Fixes the layout so the same run and settings give the same map.

    Returns
    -------
    ndarray of float32, shape (n, 2). Fewer than 3 rows are placed on a line (no method is
    meaningful there); a PCA of rank < 2 gets a zero second coordinate.
    """
    check_param("method", method, choices=PROJECTION_METHODS)
    check_param("metric", metric, choices=("euclidean", "cosine"))
    x = np.asarray(embeddings, dtype=np.float32)
    if x.ndim != 2:
        raise HyperparameterError(f"embeddings must be a 2-D array, got shape {x.shape}")
    n = x.shape[0]
    if n == 0:
        return np.zeros((0, 2), np.float32)
    if not np.all(np.isfinite(x)):
        raise HyperparameterError("embeddings contain NaN or infinite values")
    if n < 3:
        return np.column_stack([np.arange(n, dtype=np.float32), np.zeros(n, np.float32)])
    if method == "pca":
        return _pca(x)
    if method == "tsne":
        check_param("perplexity", perplexity, low=0, low_open=True)
        from sklearn.manifold import TSNE

        # Exact gradients for small sets: Barnes-Hut's tree and thread start-up cost more than
        # the O(n^2) sum below a thousand points (measured: 80 points, 1.5 s vs 70 s on a busy
        # 2-core machine).
        tsne = TSNE(n_components=2, perplexity=float(min(perplexity, (n - 1) / 3)),
                    metric=metric, init="pca", random_state=random_state,
                    method="exact" if n <= 1000 else "barnes_hut")
        return tsne.fit_transform(x).astype(np.float32)
    check_param("n_neighbors", n_neighbors, low=2, integer=True)
    check_param("min_dist", min_dist, low=0.0, high=1.0)
    import umap  # imported lazily: the first import compiles with numba (~20 s)

    k = int(min(n_neighbors, n - 1))
    reducer = umap.UMAP(n_components=2, n_neighbors=k, min_dist=float(min_dist), metric=metric,
                        random_state=random_state,
                        n_jobs=1,  # a fixed random_state makes UMAP single-threaded anyway
                        n_epochs=UMAP_EPOCHS, precomputed_knn=exact_neighbours(x, k, metric),
                        init="spectral" if n > n_neighbors + 1 else "random")
    with warnings.catch_warnings():
        # Without a search index UMAP cannot transform new points, which the app never asks.
        warnings.filterwarnings("ignore", message=".*knn_search_index.*")
        return reducer.fit_transform(x).astype(np.float32)


def exact_neighbours(x: np.ndarray, k: int, metric: str = "euclidean"
                     ) -> tuple[np.ndarray, np.ndarray, None]:
    """Each point's k nearest points (itself first) and their distances, as UMAP's
    ``precomputed_knn`` expects: (indices int64 (n, k), distances float32 (n, k), None).

    One batched matrix product: UMAP's own path for small sets calls a Python distance function
    once per pair (1,682 items: ~5 s of its ~6 s) and for larger sets compiles pynndescent.
    """
    n = len(x)
    measure = "cosine" if metric == "cosine" else "euclidean"
    # Self is set first at distance exactly 0: rounding could otherwise rank a duplicate first.
    idx, sim = exact_search(x, x, k - 1, measure=measure, exclude=sp.identity(n, format="csr"))
    dist = (1.0 - sim) if measure == "cosine" else -sim
    idx = np.column_stack([np.arange(n, dtype=np.int64), idx])
    dist = np.column_stack([np.zeros(n, np.float32), np.maximum(dist, 0.0)])
    return idx, dist.astype(np.float32), None


def _pca(x: np.ndarray) -> np.ndarray:
    """First two principal components via an SVD of the centred data (signs fixed)."""
    centred = x - x.mean(axis=0, keepdims=True)
    u, s, vt = np.linalg.svd(centred.astype(np.float64), full_matrices=False)
    coords = np.zeros((x.shape[0], 2))
    r = min(2, len(s))
    coords[:, :r] = u[:, :r] * s[:r]
    # Deterministic orientation: the largest-magnitude loading of each axis is positive.
    for j in range(r):
        if vt[j, np.argmax(np.abs(vt[j]))] < 0:
            coords[:, j] = -coords[:, j]
    return coords.astype(np.float32)


def embedding_norms(embeddings: np.ndarray) -> np.ndarray:
    """Euclidean norm of each row, float32 of shape (n,)."""
    return row_norms(np.asarray(embeddings))


def norm_vs_popularity(embeddings: np.ndarray, counts: np.ndarray) -> dict:
    """The course's diagnostic: do frequently rated items get larger embeddings?

    A large norm makes an item win under the dot product for many queries, so when norm tracks
    popularity, dot-product retrieval favours popular items (cosine removes the effect).

    Parameters
    ----------
    embeddings : ndarray, shape (n, d)
    counts : ndarray, shape (n,)
        Number of ratings of each row's item (or user).

    Returns
    -------
    dict with ``norm`` (n,), ``count`` (n,), ``spearman`` (rank correlation of the two, NaN when
    either is constant) and ``slope`` (least-squares slope of norm on log(1 + count)).
    """
    norms = embedding_norms(embeddings)
    counts = np.asarray(counts, dtype=np.float64)
    if counts.shape != norms.shape:
        raise HyperparameterError(f"counts have shape {counts.shape}, embeddings {norms.shape[0]} rows")
    rho, slope = float("nan"), float("nan")
    if len(norms) > 2 and np.ptp(norms) > 0 and np.ptp(counts) > 0:
        rho = float(spearmanr(norms, counts).statistic)
        slope = float(np.polyfit(np.log1p(counts), norms.astype(np.float64), 1)[0])
    return {"norm": norms, "count": counts, "spearman": rho, "slope": slope}
