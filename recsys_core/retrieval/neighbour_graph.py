"""Exact k-nearest-neighbour graph of a point set with itself (the start of UMAP and t-SNE).

Exact means: the same neighbours, in the same order, as sorting every pair's float64 distance
with ties broken by the smaller index (``tests/retrieval/test_neighbour_graph.py`` checks that
against a brute-force sort, ties included). Two steps per block of rows:

1. Candidates by one float32 matrix product (BLAS): rank by ||y||^2 - 2 q.y (Euclidean; the
   query's own norm is a constant per row and no square root is needed) or by -u_q.u_y on unit
   vectors (cosine). A bounded max-heap finds each row's k-th smallest key T; every item with a
   key <= T + 2E is a candidate, where E bounds the float32 rounding of a key (standard
   dot-product error bound). Any true k-nearest item, ties at the k-th distance included, is a
   candidate: its key is at most its true value + E <= (true k-th) + E <= T + 2E.
2. The few candidates (about k) get their exact float64 distance and a stable sort; only those
   k go through the square root.

Against :func:`~recsys_core.retrieval.topk.exact_search` (a float32 score for every pair, a
square root of each, argpartition, which also misordered near-equal and tied pairs and, off
the origin, lost distances to cancellation): 10,000 x 32 points, k = 91, 0.53 s of CPU instead
of 1.91 s on one thread; blocks of rows run on threads (times in benchmarks/bench_projection.py,
"kNN graph" row). Compiled with numba (cached on
disk); import it lazily.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numba as nb
import numpy as np

from ..threads import available_cores, limit_threads

#: Query rows per block: the (block, n) float32 key matrix stays a few MB (cache-resident for
#: n around 10,000) and a block is large enough for BLAS.
BLOCK_ROWS = 256
_UNIT = float(np.finfo(np.float32).eps) / 2  # unit roundoff of float32
#: Multiplies the rounding bound: a margin only costs a few extra candidates.
_SAFETY = 4.0


def knn_graph(x: np.ndarray, k: int, metric: str = "euclidean", n_threads: int | None = None
              ) -> tuple[np.ndarray, np.ndarray]:
    """Each row's k nearest rows, itself first, then by exact distance (ties: smaller index).

    Parameters
    ----------
    x : ndarray, shape (n, d)
        Points; computed from their float32 values.
    k : int
        Neighbours per row including the row itself, 1 <= k <= n.
    metric : {"euclidean", "cosine"}
        Cosine distance is 1 - cos; a zero vector has cosine 0 with everything (distance 1).
    n_threads : int, optional
        Threads, each taking whole blocks of rows (product and selection) with a one-thread
        BLAS; None: one per core. Whole blocks rather than a parallel loop with a one-thread BLAS:
        on a busy 2-core machine numba's and BLAS's thread teams waited for each other (1.5 s
        wall and 1.6 s of CPU for 10,000 x 32, k = 91, against 0.5 s on one thread).

    Returns
    -------
    indices : ndarray of int64, shape (n, k); column 0 is the row itself
    distances : ndarray of float32, shape (n, k); column 0 is 0
    """
    x = np.ascontiguousarray(x, dtype=np.float32)
    n, d = x.shape
    k = int(k)
    if not 1 <= k <= n:
        raise ValueError(f"k must be in [1, {n}], got {k}")
    x64 = x.astype(np.float64)
    gamma = d * _UNIT / (1 - d * _UNIT)  # float32 dot products of length d
    if metric == "cosine":
        norms = np.sqrt(np.einsum("ij,ij->i", x64, x64))
        units64 = np.divide(x64, norms[:, None], out=np.zeros_like(x64), where=norms[:, None] > 0)
        search = units64.astype(np.float32)
        offsets = np.zeros(n, np.float32)
        scale = np.float32(1.0)
        # Rounding the unit vectors moves a cosine by <= 2u + u^2; the product adds gamma.
        bound = np.full(n, _SAFETY * (gamma * (1 + _UNIT) ** 2 + 3 * _UNIT))
    elif metric == "euclidean":
        norms = np.zeros(n)  # unused by the Euclidean refinement
        # Centred first: keys then scale with the spread of the points, not their distance from
        # the origin (so the bound, and the candidate count, stay small for off-centre data).
        search = (x64 - x64.mean(axis=0)).astype(np.float32)
        sq = np.einsum("ij,ij->i", search.astype(np.float64), search.astype(np.float64))
        offsets = sq.astype(np.float32)
        scale = np.float32(2.0)
        radius = np.sqrt(sq)
        top = radius.max()
        # Product: 2 gamma |q||y|; norms and the subtraction: 2u (|y|^2 + |q||y|); centring
        # (each coordinate rounded) moves a squared distance by <= 8 u top^2.
        bound = _SAFETY * (2 * gamma * radius * top + 2 * _UNIT * (top * top + radius * top)
                           + 8 * _UNIT * top * top)
    else:
        raise ValueError(f"unknown metric {metric!r}")
    indices = np.empty((n, k), np.int64)
    distances = np.empty((n, k), np.float32)
    indices[:, 0] = np.arange(n)
    distances[:, 0] = 0.0
    if k == 1:
        return indices, distances
    cosine = metric == "cosine"

    def block(start: int) -> None:
        stop = min(start + BLOCK_ROWS, n)
        products = search[start:stop] @ search.T
        _select_block(products, offsets, scale, bound, start, x64, norms, cosine, indices,
                      distances)

    starts = range(0, n, BLOCK_ROWS)
    n_threads = min(len(starts), n_threads or available_cores())
    with limit_threads(1):
        if n_threads == 1:
            for start in starts:
                block(start)
        else:  # the kernel releases the GIL, as does BLAS; blocks write disjoint rows
            with ThreadPoolExecutor(n_threads) as pool:
                list(pool.map(block, starts))
    return indices, distances


@nb.njit(nogil=True, cache=True)
def _select_block(products, offsets, scale, bound, start, x64, norms, cosine, indices, distances):
    """Rows start .. start + len(products) of the graph (see the module docstring).
    Keys are offsets[j] - scale * products[i, j]; the row itself is never a candidate."""
    n = products.shape[1]
    m = indices.shape[1] - 1  # neighbours besides the row itself
    for r in range(products.shape[0]):
        i = start + r
        row = products[r]
        # k-th smallest key among the others: a max-heap of the m smallest seen so far.
        heap = np.empty(m, np.float32)
        filled = 0
        for j in range(n):
            if j == i:
                continue
            key = offsets[j] - scale * row[j]
            if filled < m:
                heap[filled] = key  # sift up
                c = filled
                filled += 1
                while c > 0:
                    p = (c - 1) // 2
                    if heap[p] >= heap[c]:
                        break
                    heap[p], heap[c] = heap[c], heap[p]
                    c = p
            elif key < heap[0]:
                heap[0] = key  # sift down
                c = 0
                while True:
                    child = 2 * c + 1
                    if child >= m:
                        break
                    if child + 1 < m and heap[child + 1] > heap[child]:
                        child += 1
                    if heap[c] >= heap[child]:
                        break
                    heap[c], heap[child] = heap[child], heap[c]
                    c = child
        threshold = np.float64(heap[0]) + 2.0 * bound[i]
        count = 0
        for j in range(n):
            if j != i and offsets[j] - scale * row[j] <= threshold:
                count += 1
        candidates = np.empty(count, np.int64)
        exact = np.empty(count, np.float64)
        c = 0
        for j in range(n):
            if j != i and offsets[j] - scale * row[j] <= threshold:
                candidates[c] = j
                c += 1
        for c in range(count):
            j = candidates[c]
            acc = 0.0
            if cosine:
                for f in range(x64.shape[1]):
                    acc += x64[i, f] * x64[j, f]
                if norms[i] > 0 and norms[j] > 0:
                    exact[c] = -(acc / (norms[i] * norms[j]))
                else:
                    exact[c] = 0.0
            else:
                for f in range(x64.shape[1]):
                    diff = x64[i, f] - x64[j, f]
                    acc += diff * diff
                exact[c] = acc
        # Candidates are in index order, so a stable sort breaks ties by the smaller index.
        order = np.argsort(exact, kind="mergesort")
        for c in range(m):
            value = exact[order[c]]
            indices[i, c + 1] = candidates[order[c]]
            distances[i, c + 1] = max(1.0 + value, 0.0) if cosine else np.sqrt(value)
