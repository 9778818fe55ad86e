"""A recommender over embeddings learned elsewhere (another library, a notebook, a paper's release).

Wrapping them gives the whole engine to them: metrics, retrieval, re-ranking, the pipeline, runs
and the app. The tests and benchmarks also use it for known-answer models with chosen embeddings.
"""
from __future__ import annotations

import numpy as np

from ..errors import HyperparameterError
from ..validation import Param
from .base import FLOAT32, ProgressCallback, Recommender


class PrecomputedEmbeddings(Recommender):
    """Scores ``user_embeddings @ item_embeddings.T`` from embeddings given up front.


    """

    kind = "precomputed"
    param_spec = {
        "user_embeddings": Param("array", "User embeddings, shape (n_users, d), matching the "
                                 "interaction matrix given to fit (which only records the "
                                 "training interactions, to exclude seen items).", tune=()),
        "item_embeddings": Param("array", "Item embeddings, shape (n_items, d).", tune=()),
        "regularization": Param("float", "L2 weight of the one-sided least squares in fold_in.",
                                low=0.0, log=True, tune=(1e-4, 10.0)),
    }
    trains_from_data = False

    def __init__(self, user_embeddings=None, item_embeddings=None, regularization: float = 0.1):
        self.user_embeddings = user_embeddings
        self.item_embeddings = item_embeddings
        self.regularization = regularization

    def estimate_fit_bytes(self, n_users: int, n_items: int, nnz: int) -> int:
        """Peak bytes of a fit (see :meth:`Recommender.estimate_fit_bytes`): float32 copies of
        the given embeddings (their dimension, 1 when not given yet)."""
        dims = [np.shape(e)[-1] for e in (self.user_embeddings, self.item_embeddings)
                if e is not None and np.ndim(e) >= 1]
        d = int(max(dims, default=1))
        return int(super().estimate_fit_bytes(n_users, n_items, nnz)
                   + (int(n_users) + int(n_items)) * d * FLOAT32)

    def fit(self, data, *, validation=None, callback: ProgressCallback | None = None
            ) -> "PrecomputedEmbeddings":
        self.validate_params()
        if self.user_embeddings is None or self.item_embeddings is None:
            raise HyperparameterError("PrecomputedEmbeddings needs user_embeddings and "
                                      "item_embeddings")
        users = np.atleast_2d(np.asarray(self.user_embeddings, dtype=np.float32))
        items = np.atleast_2d(np.asarray(self.item_embeddings, dtype=np.float32))
        matrix = self._start_fit(data)
        if users.shape[1] != items.shape[1]:
            raise HyperparameterError(f"user embeddings have dimension {users.shape[1]}, item "
                                      f"embeddings {items.shape[1]}")
        if (len(users), len(items)) != matrix.shape:
            raise HyperparameterError(f"embeddings for {len(users)} users x {len(items)} items do "
                                      f"not fit the {matrix.shape[0]} x {matrix.shape[1]} data")
        self.user_embeddings_, self.item_embeddings_ = users, items
        self._end_epoch(1, 1, {"total": 0.0}, validation, callback)
        return self

    def fold_in(self, items, ratings=None) -> np.ndarray:
        """The user vector u (float32, shape (d,)) minimising sum_j (r_j - u.v_j)^2 + reg ||u||^2
        over the given items (r_j = 1 when ``ratings`` is omitted)."""
        self._check_fitted()
        v = self.item_embeddings_[np.asarray(items, dtype=np.int64)].astype(np.float64)
        r = np.ones(len(v)) if ratings is None else np.asarray(ratings, dtype=np.float64)
        gram = v.T @ v + self.regularization * np.eye(v.shape[1])
        return np.linalg.lstsq(gram, v.T @ r, rcond=None)[0].astype(np.float32)
