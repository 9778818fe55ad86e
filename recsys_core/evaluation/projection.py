"""Two-dimensional maps of embeddings, and the course's norm-versus-popularity diagnostic.

``project`` turns (n, d) embeddings into (n, 2) coordinates with UMAP (neighbourhoods kept, the
default), t-SNE (local clusters) or PCA (the linear view, instant). The app shows the PCA map at
once while UMAP compiles (numba compiles UMAP's kernels on the first call in a process).

UMAP and t-SNE both start from each point's exact nearest neighbours; a
:class:`NeighbourGraphs` cache keeps that graph per (embeddings, metric) at the largest k asked
so far, so new UMAP settings (min_dist, spread, epochs, fewer neighbours) or a t-SNE after a
UMAP only lay the points out again (the spectral start is kept too). t-SNE runs openTSNE:
Barnes-Hut below 10,000 points, FFT-interpolated gradients (FIt-SNE) from there; measured
against scikit-learn's ``TSNE`` and umap-learn in benchmarks/bench_projection.py.
"""
from __future__ import annotations

import hashlib
import threading
import warnings
from collections import OrderedDict
from typing import Callable

import numpy as np
from scipy.spatial import cKDTree
from scipy.stats import spearmanr

from ..errors import HyperparameterError
from ..retrieval.similarity import row_norms
from ..threads import limit_threads
from ..validation import check_param

PROJECTION_METHODS = ("umap", "tsne", "pca")
#: Layout epochs. UMAP's default for under 10,000 points is 500; 200 (its default for larger
#: sets) gives the same neighbourhoods at 40% of the layout time, which matters for a live page.
UMAP_EPOCHS = 200
#: From this many points, UMAP_EPOCHS_LARGE layout epochs, so that a new min_dist redraws a
#: 10,000-item map in under 2 s on one core (the layout is all of it once the neighbour graph
#: and spectral start are cached). On three seeded 10,000 x 32 clustered sets, 120 epochs keep
#: 0.308 / 0.312 / 0.301 of the 10 nearest neighbours where 200 keep 0.314 / 0.316 / 0.309
#: (umap-learn's default 500 epochs: 0.32), in 65% of the time.
UMAP_LARGE = 10_000
UMAP_EPOCHS_LARGE = 120
#: t-SNE schedule: early exaggeration (12, momentum 0.5, learning rate n / 12: openTSNE's and
#: Belkina et al.'s rule) then the main phase with momentum TSNE_MOMENTUM and learning rate
#: TSNE_LEARNING_RATE x n. openTSNE's defaults (250 + 500 iterations, momentum 0.8, rate n)
#: keep 0.586 of the 10 nearest neighbours on 10,000 x 32 (bench_projection's data) in ~5x the
#: time of this schedule; 125 + 250 with its defaults kept 0.570. A faster main phase (2.5 n,
#: momentum 0.9) converges in 125 iterations: 0.581 (scikit-learn's TSNE: 0.584); on 1,682 x 32,
#: 0.653 against 0.649 for 125 + 250 at the defaults. Rate 4 n reaches 0.583 but the map grows
#: wider and the FFT grid with it (+50% time); momentum 0.8 at 2.5 n keeps 0.577.
TSNE_EARLY_ITERATIONS = 125
TSNE_ITERATIONS = 125
TSNE_MOMENTUM = 0.9
TSNE_LEARNING_RATE = 2.5
#: Width of the FFT gradient's interpolation intervals, in map units (openTSNE: 1). The grid
#: grows with the map's width, so late iterations of a 10,000-point map cost 5x the early
#: ones: 1.25 saves another third at 0.003 kNN preservation; 2 would lose 0.017.
TSNE_INTS_IN_INTERVAL = 1.25

#: Size from which t-SNE's repulsion is FFT-interpolated rather than Barnes-Hut (openTSNE's own
#: rule): the FFT grid has a fixed cost per iteration (~8 ms, 6 s for 80 points).
TSNE_FFT_FROM = 10_000

#: Widest vectors UMAP and t-SNE lay out: wider ones (a precomputed model's 768-d vectors) are
#: first reduced to their MAP_WIDTH leading principal components, so a map costs O(n^2 x
#: MAP_WIDTH) for its neighbour graph whatever the width (a full-width graph of 9,742 x 9,742
#: vectors is 9e11 flops). Embeddings up to this width are mapped as they are.
MAP_WIDTH = 128
#: Above this width (and number of rows) PCA takes its leading components from a randomized
#: range finder (O(n x d) per pass) instead of a full SVD of the centred matrix (O(n x d^2):
#: at 9,742 x 9,742 that ran for more than ten minutes on two cores).
EXACT_PCA_WIDTH = 256

#: ``progress(fraction, stage)``: fraction of the whole computation done (0..1) and what runs now.
Progress = Callable[[float, str], None]


class NeighbourGraphs:
    """Exact k-nearest-neighbour graphs of embedding matrices, kept for reuse.

    One graph per (matrix content, metric), at the largest k computed so far: rows are sorted by
    distance (ties by smaller index), so the first k columns of a larger graph are exactly the
    k-nearest graph. Thread-safe; the least recently used graphs beyond ``max_entries`` are
    dropped (a 10,000 x 91 graph takes 11 MB).

    Parameters
    ----------
    max_entries : int
        Number of (matrix, metric) graphs kept.

    Attributes
    ----------
    builds_ : int
        Number of graphs computed (not served from the cache) so far.
    """

    def __init__(self, max_entries: int = 8):
        self.max_entries = max_entries
        self.builds_ = 0
        self._graphs: OrderedDict[tuple, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._derived: OrderedDict[tuple, object] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _key(x: np.ndarray, metric: str) -> tuple:
        digest = hashlib.blake2b(np.ascontiguousarray(x).view(np.uint8), digest_size=16)
        return x.shape, str(x.dtype), digest.hexdigest(), metric

    def neighbours(self, x: np.ndarray, k: int, metric: str = "euclidean"
                   ) -> tuple[np.ndarray, np.ndarray]:
        """Indices int64 (n, k) and distances float32 (n, k) of each row's k nearest rows,
        itself first (see :func:`exact_neighbours`); k is clipped to n."""
        x = np.asarray(x, dtype=np.float32)
        k = int(min(k, len(x)))
        key = self._key(x, metric)
        with self._lock:
            graph = self._graphs.get(key)
            if graph is not None:
                self._graphs.move_to_end(key)
        if graph is None or graph[0].shape[1] < k:
            idx, dist, _ = exact_neighbours(x, k, metric)
            graph = (idx, dist)
            with self._lock:
                self.builds_ += 1
                kept = self._graphs.get(key)
                if kept is None or kept[0].shape[1] < k:
                    self._graphs[key] = graph
                self._graphs.move_to_end(key)
                while len(self._graphs) > self.max_entries:
                    self._graphs.popitem(last=False)
        return graph[0][:, :k], graph[1][:, :k]

    def derived(self, x: np.ndarray, metric: str, label: tuple, compute: Callable[[], object]):
        """A value computed from the graph of (x, metric), kept beside it under ``label`` (such
        as UMAP's spectral start for a given number of neighbours)."""
        key = (self._key(np.asarray(x, dtype=np.float32), metric), label)
        with self._lock:
            if key in self._derived:
                self._derived.move_to_end(key)
                return self._derived[key]
        value = compute()
        with self._lock:
            self._derived[key] = value
            while len(self._derived) > 4 * self.max_entries:
                self._derived.popitem(last=False)
        return value


def project(embeddings: np.ndarray, method: str = "umap", *, n_neighbors: int = 15,
            min_dist: float = 0.1, spread: float = 1.0, n_epochs: int | None = None,
            perplexity: float = 30.0, metric: str = "euclidean", random_state: int = 0,
            graphs: NeighbourGraphs | None = None, progress: Progress | None = None
            ) -> np.ndarray:
    """Coordinates in 2D of each embedding row.

    Parameters
    ----------
    embeddings : ndarray, shape (n, d)
    method : {"umap", "tsne", "pca"}
    n_neighbors, min_dist, spread, n_epochs : UMAP's neighbourhood size (clipped to n - 1),
        packing distance (<= spread), scale of the map and layout epochs (None:
        ``UMAP_EPOCHS``, or ``UMAP_EPOCHS_LARGE`` from ``UMAP_LARGE`` points).
    perplexity : t-SNE's effective number of neighbours (clipped to (n - 1) / 3).
    metric : {"euclidean", "cosine"}
        Distance UMAP and t-SNE preserve; cosine ignores the norms (PCA is always linear).
        Embeddings wider than :data:`MAP_WIDTH` are laid out from their leading principal
        components (:func:`reduce_width`), PCA's two from a randomized range finder above
        :data:`EXACT_PCA_WIDTH`: the work is bounded by the number of points, not the width.
    random_state : int
        Fixes the layout so the same run and settings give the same map.
    graphs : NeighbourGraphs, optional
        Where the exact neighbour graph is looked up and kept; a private one if None.
    progress : callable(fraction, stage), optional
        Called from the computing thread as stages and iterations complete.

    Returns
    -------
    ndarray of float32, shape (n, 2). Identical rows get the same point (UMAP and t-SNE lay
    out the distinct rows only). Fewer than 3 distinct rows are placed on a line (no method is
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
    report = progress if progress is not None else (lambda fraction, stage: None)
    graphs = graphs if graphs is not None else NeighbourGraphs(max_entries=1)
    if x.shape[1] > MAP_WIDTH:
        report(0.0, f"reducing {x.shape[1]:,} dimensions to {MAP_WIDTH}")
        x = reduce_width(x, MAP_WIDTH, metric)
    if method == "tsne":
        check_param("perplexity", perplexity, low=0, low_open=True)
        return _on_distinct_rows(x, lambda rows: _tsne(rows, float(perplexity), metric,
                                                       random_state, graphs, report))
    check_param("n_neighbors", n_neighbors, low=2, integer=True)
    check_param("spread", spread, low=0.0, low_open=True)
    check_param("min_dist", min_dist, low=0.0, high=float(spread))
    if n_epochs is None:
        n_epochs = UMAP_EPOCHS_LARGE if n >= UMAP_LARGE else UMAP_EPOCHS
    check_param("n_epochs", n_epochs, low=1, integer=True)
    return _on_distinct_rows(x, lambda rows: _umap(
        rows, int(n_neighbors), float(min_dist), float(spread), int(n_epochs), metric,
        random_state, graphs, report))


def _on_distinct_rows(x: np.ndarray, layout: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """``layout`` of the distinct rows of ``x``, each copy of a row given its point.

    Items with identical vectors (the same genres under content filtering: 2,121 distinct of
    ml-latest-small's 9,125) are one point of the map; laying out every copy made UMAP several
    times slower and spent its neighbour lists on copies.
    """
    distinct, inverse = np.unique(x, axis=0, return_inverse=True)
    if len(distinct) == len(x):
        return layout(x)
    if len(distinct) < 3:
        coords = np.column_stack([np.arange(len(distinct), dtype=np.float32),
                                  np.zeros(len(distinct), np.float32)])
    else:
        coords = layout(distinct)
    return coords[inverse.reshape(-1)]


#: Whether UMAP's numba kernels have been compiled in this process (only for progress labels).
_umap_compiled = False


def _umap(x, n_neighbors, min_dist, spread, n_epochs, metric, random_state, graphs, report):
    report(0.0, "nearest neighbours")
    k = int(min(n_neighbors, len(x) - 1))
    idx, dist = graphs.neighbours(x, k, metric)
    global _umap_compiled
    report(0.15, "fuzzy graph and spectral start" if _umap_compiled else
           "compiling (the first UMAP in a process takes 20-40 s)")
    import umap  # imported lazily: the first import compiles with numba (~20 s)

    epochs = _TqdmCounter(lambda done: report(0.3 + 0.7 * done, "layout"))
    with warnings.catch_warnings():
        # Without a search index UMAP cannot transform new points, which the app never asks;
        # spectral starts of disconnected clusters are handled by UMAP's per-component layout.
        warnings.filterwarnings("ignore", message=".*knn_search_index.*")
        warnings.filterwarnings("ignore", message=".*not fully connected.*")
        if len(x) > n_neighbors + 1:
            # The spectral start depends on the graph only, not on min_dist, spread or epochs.
            start = graphs.derived(x, metric, ("umap start", k, random_state),
                                   lambda: _umap_spectral_start(x, idx, dist, metric, random_state))
        else:
            start = "random"  # too few points for a spectral decomposition
        reducer = umap.UMAP(n_components=2, n_neighbors=k, min_dist=min_dist, spread=spread,
                            metric=metric, random_state=random_state,
                            n_jobs=1,  # a fixed random_state makes UMAP single-threaded anyway
                            n_epochs=n_epochs, precomputed_knn=(idx, dist, None), init=start,
                            tqdm_kwds=epochs.tqdm_kwds)
        coords = reducer.fit_transform(x).astype(np.float32)
    _umap_compiled = True
    report(1.0, "done")
    return coords


def _umap_spectral_start(x, idx, dist, metric, random_state) -> np.ndarray:
    """UMAP's own spectral start (its ``init="spectral"`` path), computed once per graph."""
    from sklearn.utils import check_random_state
    from umap.spectral import spectral_layout
    from umap.umap_ import fuzzy_simplicial_set, noisy_scale_coords

    rng = check_random_state(random_state)
    graph, _, _ = fuzzy_simplicial_set(x, idx.shape[1], rng, metric, knn_indices=idx,
                                       knn_dists=dist)
    graph = graph.tocoo()
    graph.sum_duplicates()
    # UMAP drops edges too weak to be sampled once in its epochs before the decomposition.
    graph.data[graph.data < graph.data.max() / float(UMAP_EPOCHS)] = 0.0
    graph.eliminate_zeros()
    start = spectral_layout(x, graph, 2, rng, metric=metric)
    return noisy_scale_coords(start, rng, max_coord=10, noise=0.0001)


class _TqdmCounter:
    """File-like target of UMAP's tqdm epoch bar, formatted as "<done> <total>": UMAP offers
    no callback, but passes ``tqdm_kwds`` through to its layout loop."""

    def __init__(self, on_fraction: Callable[[float], None]):
        self.on_fraction = on_fraction
        self.tqdm_kwds = {"disable": False, "file": self, "bar_format": "{n} {total}",
                          "mininterval": 0.2, "leave": True}

    def write(self, text: str) -> None:
        fields = text.split()
        if len(fields) == 2 and fields[0].isdigit() and fields[1].isdigit():
            self.on_fraction(int(fields[0]) / max(int(fields[1]), 1))

    def flush(self) -> None:
        pass


def _tsne(x, perplexity, metric, random_state, graphs, report):
    """t-SNE (openTSNE) from the exact neighbour graph: Barnes-Hut below ``TSNE_FFT_FROM``
    points, FFT-interpolated repulsion from there. The PCA start makes it deterministic;
    ``random_state`` only matters when all points coincide (random start)."""
    from openTSNE import TSNEEmbedding, initialization
    from openTSNE.affinity import PerplexityBasedNN
    from openTSNE.nearest_neighbors import PrecomputedNeighbors

    n = len(x)
    perplexity = min(perplexity, (n - 1) / 3)
    k = int(min(n - 1, max(1, int(3 * perplexity))))  # openTSNE's and scikit-learn's 3 x perplexity
    report(0.0, "nearest neighbours")
    idx, dist = graphs.neighbours(x, k + 1, metric)
    report(0.1, "affinities")
    affinities = PerplexityBasedNN(
        knn_index=PrecomputedNeighbors(idx[:, 1:], dist[:, 1:].astype(np.float64)),
        perplexity=perplexity, n_jobs=1)
    start = _pca(x).astype(np.float64)
    if start[:, 0].std() > 0:
        # openTSNE's convention: a PCA start scaled to a standard deviation of 1e-4.
        start = initialization.rescale(start)
    else:  # all points equal: PCA has no direction to offer
        start = initialization.random(n, random_state=random_state)
    if n >= TSNE_FFT_FROM:
        gradient = {"negative_gradient_method": "fft", "ints_in_interval": TSNE_INTS_IN_INTERVAL}
    else:
        gradient = {"negative_gradient_method": "bh"}
    embedding = TSNEEmbedding(start, affinities, n_jobs=1, random_state=random_state, **gradient)
    total = TSNE_EARLY_ITERATIONS + TSNE_ITERATIONS
    every = 25

    def phase(offset, stage):
        def callback(iteration, error, _embedding):
            report(0.15 + 0.85 * (offset + iteration) / total, stage)
        return callback

    embedding = embedding.optimize(TSNE_EARLY_ITERATIONS, exaggeration=12, momentum=0.5,
                                   callbacks=phase(0, "early exaggeration"),
                                   callbacks_every_iters=every)
    embedding = embedding.optimize(TSNE_ITERATIONS, momentum=TSNE_MOMENTUM,
                                   learning_rate=TSNE_LEARNING_RATE * n,
                                   callbacks=phase(TSNE_EARLY_ITERATIONS, "layout"),
                                   callbacks_every_iters=every)
    report(1.0, "done")
    return np.asarray(embedding, dtype=np.float32)


def exact_neighbours(x: np.ndarray, k: int, metric: str = "euclidean"
                     ) -> tuple[np.ndarray, np.ndarray, None]:
    """Each point's k nearest points (itself first) and their distances, as UMAP's
    ``precomputed_knn`` expects: (indices int64 (n, k), distances float32 (n, k), None).

    Exact (float64 distances, ties by the smaller index) from float32 matrix products that only
    nominate candidates (:func:`~recsys_core.retrieval.neighbour_graph.knn_graph`): UMAP's own
    path for small sets calls a Python distance function once per pair (1,682 items: ~5 s of its
    ~6 s) and for larger sets compiles pynndescent.
    """
    from ..retrieval.neighbour_graph import knn_graph  # numba: compiled (or loaded) on first use

    x = np.asarray(x, dtype=np.float32)
    k = int(min(k, len(x)))
    if k < 1:
        return np.zeros((len(x), 0), np.int64), np.zeros((len(x), 0), np.float32), None
    idx, dist = knn_graph(x, k, "cosine" if metric == "cosine" else "euclidean")
    return idx, dist, None


def knn_preservation(embeddings: np.ndarray, coords: np.ndarray, k: int = 10,
                     metric: str = "euclidean") -> float:
    """How well a map keeps neighbourhoods: the fraction of each point's k nearest neighbours in
    the embedding space (under ``metric``) that are also among its k nearest on the map
    (Euclidean), averaged over points. 1 means every neighbourhood is kept; a random map scores
    about k / n.

    Parameters
    ----------
    embeddings : ndarray, shape (n, d)
    coords : ndarray, shape (n, 2) (or any (n, m))
    k : int, clipped to n - 1
    """
    x = np.asarray(embeddings, dtype=np.float32)
    y = np.asarray(coords, dtype=np.float64)
    if len(x) != len(y):
        raise HyperparameterError(f"{len(x)} embeddings but {len(y)} map coordinates")
    k = int(min(k, len(x) - 1))
    if k < 1:
        return float("nan")
    high, _, _ = exact_neighbours(x, k + 1, metric)
    # In 2-D a k-d tree is exact in float64 and O(n log n); a product of 2-D coordinates in
    # float32 would lose close pairs to rounding. Self is removed by identity, not by rank, so
    # duplicated points cannot push a neighbour out.
    _, low = cKDTree(y).query(y, k + 1)
    others = low != np.arange(len(y))[:, None]
    others[others.all(axis=1), -1] = False  # self beyond rank k+1 (duplicates): drop the last
    high, low = high[:, 1:], low[others].reshape(len(y), k)
    kept = (np.sort(high, axis=1)[:, :, None] == low[:, None, :]).any(axis=2).sum(axis=1)
    return float(np.mean(kept / k))


def leading_components(x: np.ndarray, k: int, *, n_iter: int = 4, random_state: int = 0
                       ) -> tuple[np.ndarray, np.ndarray]:
    """The k leading principal components of ``x`` by a randomized range finder (Halko et al.,
    2011) with ``n_iter`` power iterations, never forming the centred matrix.

    Each pass is one product with ``x`` (float32, O(n x d x (k + 10))), so the cost grows with the
    size of ``x``, not with the square of its width; memory is O((n + d) x (k + 10)).

    Returns
    -------
    scores : float64 (n, k), the centred rows' coordinates on the components
    components : float64 (k, d), orthonormal rows
    """
    x = np.asarray(x, dtype=np.float32)
    n, d = x.shape
    mean = x.mean(axis=0, dtype=np.float64).astype(np.float32)
    width = int(min(k + 10, n, d))

    def times(m):  # (x - 1 mean^T) m, for m of shape (d, width)
        return x @ m - (mean @ m)[None, :]

    def transposed_times(m):  # (x - 1 mean^T)^T m, for m of shape (n, width)
        return x.T @ m - np.outer(mean, m.sum(axis=0))

    def orthonormal(m):  # a thin QR: threaded LAPACK took 0.3 s for 3,000 x 12 on a busy machine
        with limit_threads(1):
            return np.linalg.qr(m)[0]

    rng = np.random.default_rng(random_state)
    q = orthonormal(times(rng.standard_normal((d, width)).astype(np.float32)))
    for _ in range(n_iter):
        q = orthonormal(times(orthonormal(transposed_times(q))))
    small = transposed_times(q).T.astype(np.float64)  # q^T (x - 1 mean^T): (width, d)
    with limit_threads(1):
        u, s, vt = np.linalg.svd(small, full_matrices=False)
    k = min(k, len(s))
    return (q.astype(np.float64) @ u[:, :k]) * s[:k], vt[:k]


def reduce_width(x: np.ndarray, width: int = MAP_WIDTH, metric: str = "euclidean"
                 ) -> np.ndarray:
    """``x`` (n, d) as its ``width`` leading principal components, float32 (n, width); rows
    are scaled to unit length first when the map preserves cosine distances. Returned as it is
    when it is no wider."""
    x = np.asarray(x, dtype=np.float32)
    if x.shape[1] <= width:
        return x
    if metric == "cosine":
        norms = np.linalg.norm(x, axis=1, keepdims=True)
        x = x / np.where(norms > 0, norms, 1.0)
    scores, _ = leading_components(x, width, n_iter=1)
    return np.ascontiguousarray(scores, dtype=np.float32)


def _pca(x: np.ndarray) -> np.ndarray:
    """First two principal components (signs fixed): an SVD of the centred data, or the
    randomized range finder above :data:`EXACT_PCA_WIDTH` columns and rows."""
    coords = np.zeros((x.shape[0], 2))
    if min(x.shape) > EXACT_PCA_WIDTH:
        scores, vt = leading_components(x, 2)
        r = scores.shape[1]
        coords[:, :r] = scores
    else:
        centred = x - x.mean(axis=0, keepdims=True)
        u, s, vt = np.linalg.svd(centred.astype(np.float64), full_matrices=False)
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
