"""Maps of embeddings against the peers: our t-SNE and UMAP paths vs scikit-learn and umap-learn.

    python benchmarks/bench_projection.py [--sizes 1682 10000] [--dim 32] [--repeats 2]
                                          [--methods knn tsne umap]

On seeded clustered embeddings (20 clusters, each spread over 4 directions, plus noise; the
MovieLens 100K item count 1,682 and a 10,000-item catalogue, 32 dimensions), one run each:

- t-SNE: ``recsys_core.evaluation.projection.project(x, "tsne")`` (openTSNE from the exact neighbour
  graph; Barnes-Hut below 10,000 points, FFT-interpolated from there) against
  ``sklearn.manifold.TSNE(init="pca", random_state=0)``. Target (issue 9): at most a quarter of
  scikit-learn's time on 10,000 items at the same kNN preservation.
- UMAP, new parameters, warm: both libraries compiled first (a small fit each); the app has
  already drawn the default map, so its neighbour graph is cached and min_dist 0.3 only lays the
  points out again; against ``umap.UMAP(min_dist=0.3).fit_transform`` (umap-learn's own
  defaults otherwise: approximate neighbours, 500 epochs up to 10,000 points, all cores). Target:
  at most half of umap-learn's time on 10,000 items. The first map (graph included) is a row too.

- kNN graph: the exact 91-nearest-neighbour graph t-SNE starts from (perplexity 30 x 3 + self;
  ``exact_neighbours``: float32 products nominate, float64 distances decide) against
  scikit-learn's ``NearestNeighbors(algorithm="brute")`` on the same float32 points.

Quality is kNN preservation (``recsys_core.evaluation.projection.knn_preservation``): the share of
each point's 10 nearest neighbours in the 32-d space that stay among its 10 nearest on the map.
Times are the best wall-clock seconds of ``--repeats`` runs (default 2); other processes on
the machine inflate both sides.
benchmarks/bench_browser.py prints :func:`projection_rows` too.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from recsys_core.evaluation.projection import (NeighbourGraphs, exact_neighbours,  # noqa: E402
                                               knn_preservation, project)

HEADER = ("items x dim", "method", "ours s", "peer", "peer s", "ours/peer", "kNN kept ours",
          "kNN kept peer")


def clustered_embeddings(n: int, dim: int = 32, clusters: int = 20, spread_dims: int = 4,
                         seed: int = 0) -> np.ndarray:
    """(n, dim) float32: cluster centres plus a few random directions per cluster plus noise,
    so that neighbourhoods inside a cluster carry structure for the kNN measure."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=3.0, size=(clusters, dim))
    bases = rng.normal(size=(clusters, spread_dims, dim))
    labels = rng.integers(0, clusters, n)
    z = rng.normal(size=(n, spread_dims))
    x = centres[labels] + np.einsum("nl,nld->nd", z, bases[labels]) + 0.1 * rng.normal(size=(n, dim))
    return x.astype(np.float32)


def _timed(fn, repeats: int):
    """(result, best wall-clock seconds of ``repeats`` calls): the least disturbed run."""
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return np.asarray(out), best


def _row(n, dim, method, ours, peer_name, peer, x):
    (y_ours, t_ours), (y_peer, t_peer) = ours, peer
    kept = ((f"{knn_preservation(x, y_ours):.3f}", f"{knn_preservation(x, y_peer):.3f}")
            if x is not None else ("-", "-"))
    return (f"{n:,} x {dim}", method, f"{t_ours:.2f}", peer_name, f"{t_peer:.2f}",
            f"{t_ours / t_peer:.2f}") + kept


def _warm_umap() -> None:
    """Compile umap-learn's numba kernels (both code paths) so no timed run pays for it."""
    import umap

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # 5,000 points: umap-learn switches to pynndescent from 4,096, which compiles too.
        umap.UMAP(n_epochs=5).fit_transform(clustered_embeddings(5000, seed=99))
        project(clustered_embeddings(300, seed=99), "umap")


def projection_rows(sizes=(1682, 10_000), dim: int = 32, seed: int = 0, repeats: int = 2,
                    methods=("knn", "tsne", "umap")) -> list[tuple]:
    """The benchmark table: a header tuple, then one tuple of strings per (size, method).
    Each time is the best of ``repeats`` runs (the maps are deterministic except umap-learn's,
    whose default is unseeded and multi-threaded)."""
    import umap
    from sklearn.manifold import TSNE
    from sklearn.neighbors import NearestNeighbors

    exact_neighbours(clustered_embeddings(300, seed=99), 10)  # load the compiled kernel
    if "umap" in methods:
        _warm_umap()
    rows = [HEADER]
    for n in sizes:
        x = clustered_embeddings(n, dim, seed=seed)
        if "knn" in methods:
            k = min(91, n)
            rows.append(_row(n, dim, f"kNN graph k={k}",
                             (_timed(lambda: exact_neighbours(x, k)[0], repeats)),
                             "sklearn brute",
                             _timed(lambda: NearestNeighbors(n_neighbors=k, algorithm="brute")
                                    .fit(x).kneighbors(x)[1], repeats), None))
        if "tsne" in methods:
            rows.append(_row(n, dim, "t-SNE", _timed(lambda: project(x, "tsne"), repeats),
                             "sklearn TSNE", _timed(lambda: TSNE(init="pca", random_state=0)
                                                    .fit_transform(x), repeats), x))
        if "umap" not in methods:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # umap-learn's notes on n_jobs and disconnected graphs
            # A fresh cache per repeat: the first map always searches its neighbours.
            first = _timed(lambda: project(x, "umap", graphs=NeighbourGraphs()), repeats)
            peer = _timed(lambda: umap.UMAP().fit_transform(x), repeats)
            rows.append(_row(n, dim, "UMAP first map", first, "umap-learn", peer, x))
            graphs = NeighbourGraphs()
            project(x, "umap", graphs=graphs)  # the default map the app drew before
            again = _timed(lambda: project(x, "umap", min_dist=0.3, graphs=graphs), repeats)
            peer = _timed(lambda: umap.UMAP(min_dist=0.3).fit_transform(x), repeats)
            rows.append(_row(n, dim, "UMAP min_dist 0.3", again, "umap-learn", peer, x))
    return rows


def format_table(rows: list[tuple]) -> str:
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(" | ".join(str(v).rjust(w) for v, w in zip(r, widths)) for r in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1682, 10_000])
    parser.add_argument("--dim", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--methods", nargs="+", choices=("knn", "tsne", "umap"),
                        default=["knn", "tsne", "umap"])
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(format_table(projection_rows(tuple(args.sizes), args.dim, repeats=args.repeats,
                                       methods=tuple(args.methods))))
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
