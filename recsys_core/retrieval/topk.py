"""Exact top-k retrieval over a dense score matrix, with exclusion masks."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .similarity import row_norms, similarity_scores


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


def _exclusion_rows(exclude, rows: slice, n_items: int):
    """The rows ``rows`` of an exclusion given as CSR, a 2-D bool mask or a 1-D item mask/list."""
    if exclude is None:
        return None
    if sp.issparse(exclude):
        return sp.csr_matrix(exclude)[rows]
    ex = np.asarray(exclude)
    if ex.ndim == 1:
        if ex.dtype != bool:  # a list of item indices excluded for every query
            mask = np.zeros(n_items, dtype=bool)
            mask[ex.astype(np.int64)] = True
            ex = mask
        return ex[None, :]
    return ex[rows]


def exact_search(queries: np.ndarray, items: np.ndarray, k: int, measure: str = "dot",
                 alpha: float = 0.5, exclude=None, batch_size: int = 1024
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Exact k nearest items of each query under a similarity measure, best first.

    Scores a batch of queries with one matrix product (:func:`similarity_scores`) and selects with
    :func:`top_k` (argpartition, ties by smaller index), ``batch_size`` queries at a time so memory
    stays at ``batch_size * n_items`` floats.

    Parameters
    ----------
    queries : ndarray, shape (n_queries, d) or (d,)
    items : ndarray, shape (n_items, d)
    k : int
    measure, alpha : see :func:`~recsys_core.retrieval.similarity.similarity_scores`
    exclude : optional
        CSR or bool array (n_queries, n_items) of per-query exclusions (e.g. seen items), or a
        1-D bool mask / array of item indices excluded for every query.

    Returns
    -------
    indices : ndarray of int64, shape (n_queries, k), padded with -1
    scores : ndarray of float32, shape (n_queries, k), padded with -inf
    """
    q = np.atleast_2d(np.asarray(queries, dtype=np.float32))
    x = np.asarray(items, dtype=np.float32)
    k = int(max(0, min(k, len(x))))
    out_idx = np.empty((len(q), k), np.int64)
    out_val = np.empty((len(q), k), np.float32)
    norms = None if measure == "dot" else row_norms(x)  # once, not once per batch
    for start in range(0, len(q), batch_size):
        rows = slice(start, min(start + batch_size, len(q)))
        scores = similarity_scores(q[rows], x, measure, alpha, item_norms=norms)
        out_idx[rows], out_val[rows] = top_k(scores, k, _exclusion_rows(exclude, rows, len(x)))
    return out_idx, out_val


def related_items(item_embeddings: np.ndarray, items, k: int = 10, measure: str = "cosine",
                  alpha: float = 0.5, exclude=None) -> tuple[np.ndarray, np.ndarray]:
    """Items most similar to the given items (item -> items), each query item left out of its
    own list; same search as :func:`exact_search`.

    Parameters
    ----------
    item_embeddings : ndarray, shape (n_items, d)
    items : int or array of int, the query items
    exclude : optional, as in :func:`exact_search` (rows aligned with ``items``)

    Returns
    -------
    indices : ndarray of int64, shape (len(items), k)
    scores : ndarray of float32, shape (len(items), k)
    """
    emb = np.asarray(item_embeddings, dtype=np.float32)
    items = np.atleast_1d(np.asarray(items, dtype=np.int64))
    if items.size and (items.min() < 0 or items.max() >= len(emb)):
        raise IndexError(f"item index out of range for {len(emb)} items")
    self_mask = sp.csr_matrix((np.ones(len(items), np.float32), items, np.arange(len(items) + 1)),
                              shape=(len(items), len(emb)))
    if exclude is not None:
        extra = _exclusion_rows(exclude, slice(None), len(emb))
        extra = sp.csr_matrix(np.broadcast_to(extra, (len(items), len(emb)))
                              if not sp.issparse(extra) else extra, dtype=np.float32)
        self_mask = self_mask + extra
    return exact_search(emb[items], emb, k, measure, alpha, exclude=self_mask)
