"""Compiled per-row solves of weighted alternating least squares (used by :mod:`.wals`).

Every kernel solves, for each row r of a weighted sparse matrix W (CSR), the one-sided problem

    min_x  sum_{j observed in r} W[r, j] (1 - x . y_j)^2 + w0 sum_{j unobserved} (x . y_j)^2
           + reg[r] ||x||^2

whose normal equations are

    (w0 Y^T Y + sum_{j in r} (W[r, j] - w0) y_j y_j^T + reg[r] I) x = sum_{j in r} W[r, j] y_j.

``w0 Y^T Y`` (the "Gram trick") is the same d x d matrix for every row, so the unobserved entries
are never enumerated. Rows run in parallel (``prange``); each row costs O(nnz_r d^2 + d^3) for the
exact Cholesky solve and O(steps (nnz_r d + d^2)) for conjugate gradient.

Rows are dealt to threads round-robin (:data:`ROW_STRIDE` interleaved slices), not in contiguous
ranges: item popularity is skewed and ordered (MovieLens' old blockbusters have low ids), so a
contiguous split left one thread with most of the entries and the other idle.
"""
from __future__ import annotations

import numba as nb
import numpy as np

#: Interleaved slices a parallel sweep is cut into (rows r, r + ROW_STRIDE, ...): many more than
#: threads, so each thread's share of the entries is close to even whatever the row order.
ROW_STRIDE = 256


@nb.njit(fastmath=True, cache=True)
def _solve_row(indptr, indices, weights, other, gram, unobserved_weight, reg, r, out_row):
    """Exact solve of row ``r`` into ``out_row`` (the body shared by the parallel and serial
    kernels, so a fold-in runs the very same arithmetic as the fit)."""
    d = other.shape[1]
    # The rank-one updates dominate the cost: accumulate them in float32 (twice the SIMD width),
    # four entries at a time so each pass over the d x d triangle does four updates.
    acc = np.zeros((d, d), dtype=np.float32)
    b = np.zeros(d, dtype=np.float64)
    start, stop = indptr[r], indptr[r + 1]
    k = start
    while k + 4 <= stop:
        c0, c1, c2, c3 = indices[k], indices[k + 1], indices[k + 2], indices[k + 3]
        w0_, w1_, w2_, w3_ = weights[k], weights[k + 1], weights[k + 2], weights[k + 3]
        e0 = np.float32(w0_ - unobserved_weight)
        e1 = np.float32(w1_ - unobserved_weight)
        e2 = np.float32(w2_ - unobserved_weight)
        e3 = np.float32(w3_ - unobserved_weight)
        for i in range(d):
            y0, y1, y2, y3 = other[c0, i], other[c1, i], other[c2, i], other[c3, i]
            b[i] += (np.float64(w0_) * y0 + np.float64(w1_) * y1
                     + np.float64(w2_) * y2 + np.float64(w3_) * y3)
            t0, t1, t2, t3 = e0 * y0, e1 * y1, e2 * y2, e3 * y3
            for j in range(i + 1):
                acc[i, j] += (t0 * other[c0, j] + t1 * other[c1, j]
                              + t2 * other[c2, j] + t3 * other[c3, j])
        k += 4
    while k < stop:
        col = indices[k]
        w = weights[k]
        e = np.float32(w - unobserved_weight)
        for i in range(d):
            yi = other[col, i]
            b[i] += np.float64(w) * yi
            t = e * yi
            for j in range(i + 1):
                acc[i, j] += t * other[col, j]
        k += 1
    a = np.empty((d, d), dtype=np.float64)
    for i in range(d):
        for j in range(i + 1):
            a[i, j] = gram[i, j] + acc[i, j]
        a[i, i] += reg
    # In-place Cholesky factorisation a = L L^T (lower triangle), in float64.
    for j in range(d):
        s = a[j, j]
        for q in range(j):
            s -= a[j, q] * a[j, q]
        s = np.sqrt(s) if s > 1e-300 else 1e-150
        a[j, j] = s
        for i in range(j + 1, d):
            t = a[i, j]
            for q in range(j):
                t -= a[i, q] * a[j, q]
            a[i, j] = t / s
    # Forward (L z = b) then backward (L^T x = z) substitution.
    for i in range(d):
        t = b[i]
        for q in range(i):
            t -= a[i, q] * b[q]
        b[i] = t / a[i, i]
    for i in range(d - 1, -1, -1):
        t = b[i]
        for q in range(i + 1, d):
            t -= a[q, i] * b[q]
        b[i] = t / a[i, i]
    for i in range(d):
        out_row[i] = b[i]


@nb.njit(parallel=True, fastmath=True, cache=True)
def solve_rows_cholesky(indptr, indices, weights, other, gram, unobserved_weight, row_reg, out):
    """Exact solve of every row; writes the (n_rows, d) solutions into ``out``.

    Parameters
    ----------
    indptr, indices, weights : CSR arrays of W, shape (n_rows, n_other), weights float32
    other : float32 (n_other, d), the fixed factors Y
    gram : float64 (d, d), ``w0 * Y^T Y``
    unobserved_weight : float, w0
    row_reg : float64 (n_rows,), the L2 weight of each row
    out : float32 (n_rows, d)
    """
    n_rows = indptr.shape[0] - 1
    for start in nb.prange(ROW_STRIDE):
        for r in range(start, n_rows, ROW_STRIDE):
            _solve_row(indptr, indices, weights, other, gram, unobserved_weight, row_reg[r], r,
                       out[r])


@nb.njit(fastmath=True, cache=True)
def solve_rows_cholesky_serial(indptr, indices, weights, other, gram, unobserved_weight, row_reg,
                               out):
    """:func:`solve_rows_cholesky` on one thread: for a fold-in or a small matrix, where waking
    a thread pool costs more than the solve."""
    for r in range(indptr.shape[0] - 1):
        _solve_row(indptr, indices, weights, other, gram, unobserved_weight, row_reg[r], r, out[r])


@nb.njit(fastmath=True, cache=True)
def _cg_row(indptr, indices, weights, other, gram, unobserved_weight, reg, r, out_row, steps):
    """Conjugate-gradient steps for row ``r``, warm-started from and written to ``out_row``."""
    d = other.shape[1]
    x = out_row.copy()
    reg = np.float32(reg)
    # residual = b - A x
    res = np.zeros(d, dtype=np.float32)
    for i in range(d):
        t = np.float32(0.0)
        for j in range(d):
            t += gram[i, j] * x[j]
        res[i] = -t - reg * x[i]
    for k in range(indptr[r], indptr[r + 1]):
        col = indices[k]
        w = weights[k]
        dot = np.float32(0.0)
        for i in range(d):
            dot += other[col, i] * x[i]
        coef = w - (w - unobserved_weight) * dot
        for i in range(d):
            res[i] += coef * other[col, i]
    p = res.copy()
    rs_old = np.float32(0.0)
    for i in range(d):
        rs_old += res[i] * res[i]
    ap = np.empty(d, dtype=np.float32)
    for _ in range(steps):
        if rs_old < 1e-20:
            break
        for i in range(d):
            t = np.float32(0.0)
            for j in range(d):
                t += gram[i, j] * p[j]
            ap[i] = t + reg * p[i]
        for k in range(indptr[r], indptr[r + 1]):
            col = indices[k]
            dot = np.float32(0.0)
            for i in range(d):
                dot += other[col, i] * p[i]
            coef = (weights[k] - unobserved_weight) * dot
            for i in range(d):
                ap[i] += coef * other[col, i]
        p_ap = np.float32(0.0)
        for i in range(d):
            p_ap += p[i] * ap[i]
        if p_ap <= 0:
            break
        step = rs_old / p_ap
        rs_new = np.float32(0.0)
        for i in range(d):
            x[i] += step * p[i]
            res[i] -= step * ap[i]
            rs_new += res[i] * res[i]
        beta = rs_new / rs_old
        for i in range(d):
            p[i] = res[i] + beta * p[i]
        rs_old = rs_new
    for i in range(d):
        out_row[i] = x[i]


@nb.njit(parallel=True, fastmath=True, cache=True)
def solve_rows_cg(indptr, indices, weights, other, gram, unobserved_weight, row_reg, out, steps):
    """A few conjugate-gradient steps per row, warm-started from ``out`` (updated in place).

    Same arguments as :func:`solve_rows_cholesky` (``gram`` as float32 here) plus ``steps``. The
    matrix is never formed: each step multiplies by ``gram`` and by the row's observed factors.
    """
    n_rows = indptr.shape[0] - 1
    for start in nb.prange(ROW_STRIDE):
        for r in range(start, n_rows, ROW_STRIDE):
            _cg_row(indptr, indices, weights, other, gram, unobserved_weight, row_reg[r], r,
                    out[r], steps)


@nb.njit(fastmath=True, cache=True)
def solve_rows_cg_serial(indptr, indices, weights, other, gram, unobserved_weight, row_reg, out,
                         steps):
    """:func:`solve_rows_cg` on one thread (small matrices)."""
    for r in range(indptr.shape[0] - 1):
        _cg_row(indptr, indices, weights, other, gram, unobserved_weight, row_reg[r], r, out[r],
                steps)


@nb.njit(parallel=True, fastmath=True, cache=True)
def observed_losses(indptr, indices, weights, rows, cols):
    """Over the observed entries: (sum of W (1 - x.y)^2, sum of (x.y)^2), in float64.

    Each x.y is a float32 dot product (SIMD-wide, as the solvers compute them); the sums over
    millions of entries accumulate in float64, per slice of rows then over slices.
    """
    n_rows = indptr.shape[0] - 1
    d = rows.shape[1]
    error_parts = np.zeros(ROW_STRIDE, dtype=np.float64)
    square_parts = np.zeros(ROW_STRIDE, dtype=np.float64)
    for start in nb.prange(ROW_STRIDE):
        weighted_error = 0.0
        squared_scores = 0.0
        for r in range(start, n_rows, ROW_STRIDE):
            for k in range(indptr[r], indptr[r + 1]):
                col = indices[k]
                s = np.float32(0.0)
                for i in range(d):
                    s += rows[r, i] * cols[col, i]
                e = 1.0 - np.float64(s)
                weighted_error += weights[k] * e * e
                squared_scores += np.float64(s) * s
        error_parts[start] = weighted_error
        square_parts[start] = squared_scores
    return error_parts.sum(), square_parts.sum()
