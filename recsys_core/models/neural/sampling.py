"""Negative sampling and history splitting for the neural retrieval models.

Every epoch each user's history is split into query input and held-out targets
(:func:`split_history`); a sampled softmax contrasts the targets with negatives drawn uniformly,
by popularity (:func:`negative_distribution`, :func:`sample_negatives`), or the highest-scoring
unseen items (:func:`hard_negatives`).
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ...retrieval.topk import top_k


def split_history(rows: sp.csr_matrix, target_fraction: float, rng: np.random.Generator
                  ) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Split each row's items into query input and held-out targets.

    Every entry becomes a target with probability ``target_fraction``; each non-empty row keeps at
    least one target, and each row with two or more items keeps at least one input item. Targets
    never appear in the input.

    Returns
    -------
    inputs, targets : csr_matrix, both of the shape of ``rows``, disjoint, summing to ``rows``.
    """
    rows = sp.csr_matrix(rows)
    counts = np.diff(rows.indptr)
    is_target = rng.random(rows.nnz) < target_fraction
    # One random entry per non-empty row is always a target, and another one (of rows with two
    # or more entries) always an input: offsets drawn within each row, no sorting needed.
    nonempty = np.flatnonzero(counts > 0)
    forced = (rng.random(len(nonempty)) * counts[nonempty]).astype(np.int64)
    is_target[rows.indptr[nonempty] + forced] = True
    several = counts[nonempty] > 1
    rows_several, forced_several = nonempty[several], forced[several]
    n = counts[rows_several]
    other = (forced_several + 1 + (rng.random(len(n)) * (n - 1)).astype(np.int64)) % n
    is_target[rows.indptr[rows_several] + other] = False
    return _select(rows, ~is_target), _select(rows, is_target)


def _select(rows: sp.csr_matrix, keep: np.ndarray) -> sp.csr_matrix:
    counts = np.add.reduceat(keep.astype(np.int64), rows.indptr[:-1]) if rows.nnz else None
    indptr = np.zeros(rows.shape[0] + 1, dtype=np.int64)
    if counts is not None:
        counts[np.diff(rows.indptr) == 0] = 0  # reduceat repeats the next value for empty rows
        np.cumsum(counts, out=indptr[1:])
    return sp.csr_matrix((rows.data[keep], rows.indices[keep], indptr), shape=rows.shape)


def negative_distribution(sampler: str, item_counts: np.ndarray) -> np.ndarray:
    """Probability of drawing each item as a negative (float64, shape (n_items,), sums to 1).

    ``uniform``: 1/n_items. ``popularity`` and ``in-batch``: proportional to the item's training
    interactions plus one (in-batch negatives are other users' positives, so they arrive at that
    rate; the +1 keeps unseen items drawable).
    """
    n = len(item_counts)
    if sampler == "uniform":
        return np.full(n, 1.0 / n)
    weights = np.asarray(item_counts, dtype=np.float64) + 1.0
    return weights / weights.sum()


def sample_negatives(rng: np.random.Generator, q: np.ndarray, n_samples: int) -> np.ndarray:
    """``n_samples`` item indices (int64) drawn with replacement from distribution ``q``."""
    return rng.choice(len(q), size=n_samples, p=q).astype(np.int64)


def hard_negatives(scores: np.ndarray, positives: sp.csr_matrix, n_negatives: int) -> np.ndarray:
    """The ``n_negatives`` highest-scoring items of each row that are not among its positives.

    Returns int64 (n_rows, n_negatives).
    """
    idx, _ = top_k(scores, n_negatives, exclude=positives)
    return idx
