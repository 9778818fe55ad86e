"""Exact top-k retrieval over a dense score matrix, with exclusion masks."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def top_k(scores: np.ndarray, k: int, exclude: sp.spmatrix | np.ndarray | None = None
          ) -> tuple[np.ndarray, np.ndarray]:
    """Indices and values of the k largest scores in each row, best first.

    Parameters
    ----------
    scores : ndarray, shape (n_rows, n_items) or (n_items,)
        Larger is better. Not modified.
    k : int
        Clipped to n_items.
    exclude : sparse matrix or bool ndarray, shape like ``scores``, optional
        Nonzero / True entries are never returned (seen items, explicit exclusions). When a row
        has fewer than k allowed items the tail is padded with index -1 and score -inf.

    Returns
    -------
    indices : ndarray of int64, shape (n_rows, k)
    values : ndarray of float32, shape (n_rows, k)

    Ties are broken by the smaller item index, so results are deterministic.
    """
    s = np.atleast_2d(np.asarray(scores, dtype=np.float32))
    n_rows, n_items = s.shape
    k = int(max(0, min(k, n_items)))
    if exclude is not None:
        s = s.copy()
        if sp.issparse(exclude):
            ex = sp.csr_matrix(exclude)
            rows = np.repeat(np.arange(ex.shape[0]), np.diff(ex.indptr))
            s[rows, ex.indices] = -np.inf
        else:
            s[np.broadcast_to(np.asarray(exclude, dtype=bool), s.shape)] = -np.inf
    if k == 0:
        return np.zeros((n_rows, 0), np.int64), np.zeros((n_rows, 0), np.float32)
    if k < n_items:
        part = np.argpartition(-s, k - 1, axis=1)[:, :k]
        # Items tied with the k-th score may sit outside the partition: widen to all of them so
        # the smallest indices win the tie.
        kth = np.take_along_axis(s, part, axis=1).min(axis=1)
        ties = (s == kth[:, None]).sum(axis=1) > (np.take_along_axis(s, part, axis=1) == kth[:, None]).sum(axis=1)
        if ties.any():
            full = np.argsort(-s[ties], axis=1, kind="stable")[:, :k]
            part[ties] = full
    else:
        part = np.broadcast_to(np.arange(n_items), (n_rows, n_items)).copy()
    vals = np.take_along_axis(s, part, axis=1)
    order = np.lexsort((part, -vals), axis=1) if n_rows else part
    idx = np.take_along_axis(part, order, axis=1).astype(np.int64)
    vals = np.take_along_axis(vals, order, axis=1)
    idx[~np.isfinite(vals) & (vals < 0)] = -1
    return idx, vals.astype(np.float32)
