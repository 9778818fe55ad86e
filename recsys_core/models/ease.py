"""EASE: embarrassingly shallow autoencoder (Steck, 2019), a closed-form item-item model.

It learns an item x item weight matrix B with a zero diagonal minimising
||X - X B||_F^2 + lambda ||B||_F^2, whose solution is B = I - P diag(1 / diag(P)) with
P = (X^T X + lambda I)^-1. Scores are X B: each user's history votes for items through B.

EASE has no low-rank embeddings. To fit the shared interface it exposes its exact factorisation
of the score matrix, ``score = user_embeddings_ @ item_embeddings_.T``, with

- ``user_embeddings_`` = X, the user's (binary or rating) history row, shape (n_users, n_items);
- ``item_embeddings_`` = B^T, item i's row holding the weights every item gives to i,
  shape (n_items, n_items).

So "embedding dimension" equals the number of items; :meth:`EASE.fold_in` returns the new user's
history vector, and ``similar_items`` compares items by the weight profiles they receive.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..errors import DataError, HyperparameterError
from .base import ProgressCallback, Recommender, check_param

#: Above this many items the dense n_items x n_items inverse gets too large to be interactive.
MAX_ITEMS = 20_000


class EASE(Recommender):
    """Closed-form item-item recommender (see the module docstring).

    Parameters
    ----------
    regularization : float > 0
        lambda, added to the diagonal of the item Gram matrix X^T X.
    use_ratings : bool
        Build X from the rating values instead of a binary "interacted" matrix.

    Attributes
    ----------
    item_weights_ : float32 (n_items, n_items)
        B, zero diagonal; ``score = X @ B``.
    history_ : list of dict
        One entry with the training ``observed`` squared error, ``regularization`` and ``total``.
    """

    kind = "ease"
    predicts_ratings = False

    def __init__(self, regularization: float = 300.0, use_ratings: bool = False):
        self.regularization = regularization
        self.use_ratings = use_ratings

    def _history_matrix(self, matrix: sp.csr_matrix) -> sp.csr_matrix:
        x = sp.csr_matrix(matrix, dtype=np.float32, copy=True)
        if not self.use_ratings:
            x.data = np.ones_like(x.data)
        return x

    def fit(self, data, *, validation=None, callback: ProgressCallback | None = None) -> "EASE":
        """Solve for B in closed form (one d x d inverse, d = n_items) from a Dataset or CSR."""
        check_param("regularization", self.regularization, low=0, low_open=True)
        check_param("use_ratings", self.use_ratings, choices=(True, False))
        matrix = self._start_fit(data)
        if matrix.shape[1] > MAX_ITEMS:
            raise HyperparameterError(f"EASE inverts an n_items x n_items matrix; "
                                      f"{matrix.shape[1]} items is more than the {MAX_ITEMS} "
                                      "it allows")
        x = self._history_matrix(matrix)
        gram = (x.T @ x).toarray().astype(np.float64)
        p = np.linalg.inv(gram + self.regularization * np.eye(gram.shape[0]))
        b = -p / np.diag(p)[None, :]
        b[np.diag_indices_from(b)] = 0.0
        self.item_weights_ = b.astype(np.float32)
        self.user_history_ = x
        self._after_load()
        # ||X - X B||^2 = tr(G) - 2 tr(B^T G) + tr(B^T G B) with G = X^T X: no dense X needed.
        observed = float(np.trace(gram) - 2.0 * np.sum(gram * b) + np.sum(b * (gram @ b)))
        regularization = float(self.regularization * np.sum(b ** 2))
        self._end_epoch(1, 1, {"observed": observed, "regularization": regularization,
                               "total": observed + regularization}, validation, callback)
        return self

    def _after_load(self):
        self.item_embeddings_ = np.ascontiguousarray(self.item_weights_.T)

    @property
    def user_embeddings_(self) -> np.ndarray:
        """Dense histories X, float32 (n_users, n_items) (built on demand: EASE stores X sparse)."""
        self._check_fitted()
        return self.user_history_.toarray()

    def _state(self):
        arrays, values = super()._state()
        arrays.pop("item_embeddings_", None)  # the transpose of item_weights_, rebuilt on load
        return arrays, values

    def score(self, users, items=None) -> np.ndarray:
        """Scores X[users] @ B[:, items], float32 (len(users), n_items or len(items))."""
        self._check_fitted()
        users = self._user_index_array(users)
        weights = self.item_weights_ if items is None \
            else self.item_weights_[:, np.asarray(items, dtype=np.int64)]
        return np.asarray(self.user_history_[users] @ weights, dtype=np.float32)

    def predict(self, users, items) -> np.ndarray:
        """Score of each (user, item) pair, float32 (n_pairs,)."""
        self._check_fitted()
        users = self._user_index_array(users)
        items = np.asarray(items, dtype=np.int64)
        rows = self.user_history_[users]
        return np.asarray(rows.multiply(self.item_weights_[:, items].T).sum(axis=1),
                          dtype=np.float32).ravel()

    def fold_in(self, items, ratings=None) -> np.ndarray:
        """The new user's history vector, float32 (n_items,): its product with B gives the scores
        (use :meth:`score_embeddings`)."""
        self._check_fitted()
        idx = np.atleast_1d(np.asarray(items, dtype=np.int64))
        if idx.size and (idx.min() < 0 or idx.max() >= self.n_items_):
            bad = idx[(idx < 0) | (idx >= self.n_items_)][0]
            raise IndexError(f"item index {bad} out of range for {self.n_items_} items")
        values = np.ones(idx.size, np.float32) if ratings is None or not self.use_ratings \
            else np.atleast_1d(np.asarray(ratings, dtype=np.float32))
        if values.shape != idx.shape:
            raise DataError(f"got {idx.size} items but {values.size} ratings")
        vector = np.zeros(self.n_items_, dtype=np.float32)
        if self.use_ratings:
            np.add.at(vector, idx, values)
        else:
            vector[idx] = 1.0
        return vector
