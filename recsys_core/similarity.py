"""Similarity measures between query embeddings and item embeddings.

The course's three measures plus its norm-tempered variant. Larger is always more similar: the
Euclidean measure returns the negated distance so every measure ranks with the same top-k code.
"""
from __future__ import annotations

import numpy as np

from .errors import HyperparameterError

MEASURES = ("dot", "cosine", "euclidean", "tempered")


def _norms(x: np.ndarray) -> np.ndarray:
    return np.sqrt(np.einsum("ij,ij->i", x, x, dtype=np.float64)).astype(np.float32)


def similarity_scores(queries: np.ndarray, items: np.ndarray, measure: str = "dot",
                      alpha: float = 0.5) -> np.ndarray:
    """Score every query against every item.

    Parameters
    ----------
    queries : ndarray, shape (n_queries, d) or (d,)
    items : ndarray, shape (n_items, d)
    measure : {"dot", "cosine", "euclidean", "tempered"}
        "euclidean" returns minus the distance; "tempered" is ||q||^a ||x||^a cos(q, x).
    alpha : float in [0, 1]
        Exponent of the tempered measure (0 gives cosine, 1 gives the dot product).

    Returns
    -------
    ndarray of float32, shape (n_queries, n_items)
    """
    q = np.atleast_2d(np.asarray(queries, dtype=np.float32))
    x = np.asarray(items, dtype=np.float32)
    if q.shape[1] != x.shape[1]:
        raise ValueError(f"queries have dimension {q.shape[1]}, items {x.shape[1]}")
    if measure not in MEASURES:
        raise HyperparameterError(f"unknown similarity measure {measure!r}; choose one of "
                                  + ", ".join(MEASURES))
    dots = q @ x.T
    if measure == "dot":
        return dots
    qn, xn = _norms(q), _norms(x)
    if measure == "euclidean":
        sq = qn[:, None] ** 2 + xn[None, :] ** 2 - 2.0 * dots
        return -np.sqrt(np.maximum(sq, 0.0))
    if measure == "tempered" and not 0.0 <= alpha <= 1.0:
        raise HyperparameterError(f"alpha must be in [0, 1], got {alpha}")
    a = 0.0 if measure == "cosine" else alpha
    tiny = np.float32(1e-12)
    # ||q||^a ||x||^a cos = dots * ||q||^(a-1) * ||x||^(a-1); zero vectors score 0.
    qs = np.where(qn > tiny, np.maximum(qn, tiny) ** (a - 1.0), 0.0).astype(np.float32)
    xs = np.where(xn > tiny, np.maximum(xn, tiny) ** (a - 1.0), 0.0).astype(np.float32)
    return dots * qs[:, None] * xs[None, :]
