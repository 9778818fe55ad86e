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
history vector, and ``similar_items`` compares items by the weight profiles they receive. These
rows are weights and histories, not vectors that represent items and users in a shared space:
``has_embeddings`` is False, so the app neither maps them (a "9,742-dimensional" map of
ml-latest-small) nor compares them under dot, cosine and Euclidean measures; EASE's related
items come from its rows of B.
"""
from __future__ import annotations

from contextlib import nullcontext

import numpy as np
import scipy.linalg
import scipy.sparse as sp

from ..errors import DataError, HyperparameterError
from ..threads import limit_threads
from ..validation import Param
from .base import FLOAT32, FLOAT64, INT32, INT64, ProgressCallback, Recommender

#: Above this many items the dense n_items x n_items inverse gets too large to be interactive.
MAX_ITEMS = 20_000


#: Above this many items the inverse runs on one BLAS thread: with two threads, the OpenBLAS
#: that the NumPy and SciPy wheels ship (0.3.30) crashed the process (segmentation fault)
#: inverting 16,384 x 16,384 and 17,632 x 17,632 (getri and potri alike) and inverted
#: 12,000 x 12,000 fine; one thread inverted 17,632 x 17,632.
SINGLE_THREAD_INVERSE_ITEMS = 12_000
#: Rows of the inverse mirrored at a time (a block of transposed copies, not an n^2 index array).
MIRROR_BLOCK = 1024


def symmetric_positive_inverse(matrix: np.ndarray) -> np.ndarray:
    """The inverse of a symmetric positive definite float64 (n, n) matrix, computed in place.

    Cholesky (LAPACK potrf, then potri) takes half the flops of a general inverse; ``matrix``
    is overwritten and returned holding the inverse, both triangles filled. Raises
    :class:`~recsys_core.errors.DataError` if the matrix is not positive definite.
    """
    n = matrix.shape[0]
    # Symmetric: its transpose is the Fortran-ordered view LAPACK works on without a copy.
    with limit_threads(1) if n > SINGLE_THREAD_INVERSE_ITEMS else nullcontext():
        factor, info = scipy.linalg.lapack.dpotrf(matrix.T, lower=False, clean=False,
                                                   overwrite_a=True)
        if info == 0:
            factor, info = scipy.linalg.lapack.dpotri(factor, lower=False, overwrite_c=True)
    if info != 0:
        raise DataError(f"the regularised item Gram matrix is not positive definite (LAPACK "
                        f"info {info}); raise the regularization")
    inverse = factor  # its upper triangle (row <= column) holds the inverse
    for start in range(0, n, MIRROR_BLOCK):
        stop = min(start + MIRROR_BLOCK, n)
        inverse[start:stop, :start] = inverse[:start, start:stop].T
        block = inverse[start:stop, start:stop]
        block[...] = np.triu(block) + np.triu(block, 1).T
    return inverse.T  # C-ordered again, as the matrix came (the values are symmetric)


class EASE(Recommender):
    """Closed-form item-item recommender (see the module docstring).


    Attributes
    ----------
    item_weights_ : float32 (n_items, n_items)
        B, zero diagonal; ``score = X @ B``.
    history_ : list of dict
        One entry with the training ``observed`` squared error, ``regularization`` and ``total``.
    """

    kind = "ease"
    has_embeddings = False  # B's rows and the histories: no embeddings to map (module docstring)
    related_items_source = "the learned item-item weights"
    param_spec = {
        "regularization": Param("float", "lambda, added to the diagonal of the item Gram matrix "
                                "X^T X.", low=0, low_open=True, log=True, tune=(1.0, 10_000.0)),
        "use_ratings": Param("bool", "Build X from the rating values instead of a binary "
                             '"interacted" matrix.'),
    }
    predicts_ratings = False

    def __init__(self, regularization: float = 300.0, use_ratings: bool = False):
        self.regularization = regularization
        self.use_ratings = use_ratings

    def estimate_fit_bytes(self, n_users: int, n_items: int, nnz: int) -> int:
        """Peak bytes of a fit (see :meth:`Recommender.estimate_fit_bytes`): a few
        n_items x n_items matrices (the sparse, then dense float64 Gram matrix; the
        inverse, computed in place into B; B in float32 and its transpose)."""
        n_items, nnz = int(n_items), int(nnz)
        square = n_items * n_items
        history = nnz * (FLOAT32 + FLOAT64 + 2 * INT32) + (int(n_users) + 1) * INT64
        gram_phase = square * (FLOAT64 + INT64 + FLOAT64)  # sparse product, then dense
        solve_phase = square * (2 * FLOAT64 + FLOAT32)  # G, P inverted in place into B, B float32
        return int(super().estimate_fit_bytes(n_users, n_items, nnz) + history
                   + max(gram_phase, solve_phase) + square * FLOAT32)

    def _history_matrix(self, matrix: sp.csr_matrix) -> sp.csr_matrix:
        x = sp.csr_matrix(matrix, dtype=np.float32, copy=True)
        if not self.use_ratings:
            x.data = np.ones_like(x.data)
        return x

    def fit(self, data, *, validation=None, callback: ProgressCallback | None = None) -> "EASE":
        """Solve for B in closed form (one d x d inverse, d = n_items) from a Dataset or CSR."""
        self.validate_params()
        matrix = self._start_fit(data)
        if matrix.shape[1] > MAX_ITEMS:
            raise HyperparameterError(f"EASE inverts an n_items x n_items matrix; "
                                      f"{matrix.shape[1]} items is more than the {MAX_ITEMS} "
                                      "it allows")
        x = self._history_matrix(matrix)
        x64 = x.astype(np.float64)  # a float64 product, so no float32 dense copy on the way
        gram = (x64.T @ x64).toarray()
        del x64
        # P = (G + lambda I)^-1, then B = -P / diag(P) with a zero diagonal, built in place: the
        # n_items^2 float64 matrices set the fit's memory, so no more of them than needed.
        p = gram.copy()
        p[np.diag_indices_from(p)] += self.regularization
        b = symmetric_positive_inverse(p)
        b /= -np.diag(b).copy()[None, :]
        b[np.diag_indices_from(b)] = 0.0
        # ||X - X B||^2 = tr(G) - 2 tr(B^T G) + tr(B^T G B) with G = X^T X, and G B = G - D +
        # lambda (I - B) (D = diag(1 / diag P)) with B's diagonal zero, so the observed term is
        # tr(G) - sum(G * B) - lambda ||B||^2: no dense X and no n_items^2 product needed.
        regularization = float(self.regularization * np.einsum("ij,ij->", b, b))
        observed = float(np.trace(gram) - np.einsum("ij,ij->", gram, b)) - regularization
        del gram, p
        self.item_weights_ = b.astype(np.float32)
        del b
        self.user_history_ = x
        self._after_load()
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

    def related_item_scores(self, items, candidates=None) -> np.ndarray:
        """Rows of B, float32 (len(items), n_items or len(candidates)): how strongly having each
        item in a history votes for each candidate (the score's own item-item weights)."""
        self._check_fitted()
        rows = self.item_weights_[self._item_index_array(items)]
        return rows if candidates is None else rows[:, self._item_index_array(candidates)]

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
