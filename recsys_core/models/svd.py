"""The SVD baseline: a truncated singular value decomposition of the interaction matrix.

Unobserved entries count as zeros and the objective is the Frobenius norm over *all* pairs,

    minimise ||A - U V^T||_F^2 over rank-d U (n_users, d), V (n_items, d),

whose exact solution (Eckart-Young) is the truncated SVD A ~= P S Q^T. The model splits the
singular values evenly, U = P sqrt(S) and V = Q sqrt(S): the dot product U_u . V_i reproduces the
rank-d approximation exactly, and user and item embeddings live on the same scale, so item-item
similarities and 2-D maps of V are not dominated by the top singular direction the way Q S would
be (nor flattened the way bare Q would be).

Because zeros stand for "unobserved", scores rank items (what a user probably interacted with) but
are not rating predictions (``predicts_ratings`` is False). This is the baseline the course
contrasts with matrix factorization on observed entries and with WALS.

Defaults (16 factors of the 0/1 matrix) were chosen by precision@10 on a validation split carved
from MovieLens 100K u1's training part (16 factors 0.248; 8: 0.238; 32: 0.227; 64: 0.193; the
ratings matrix instead of 0/1: 0.239 at 16): more factors fit the popularity-dominated zeros.
The defaults protocol on three real catalogues keeps them (docs/defaults-protocol.md, "SVD").
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import svds

from ..errors import DataError, HyperparameterError
from ..threads import limit_threads
from ..validation import Param
from .base import FLOAT32, FLOAT64, INT32, ProgressCallback, Recommender


#: Observed entries per block when the fitted values are computed for the losses.
LOSS_CHUNK = 16_384


class SVDModel(Recommender):
    """Truncated SVD of the user x item matrix with unobserved entries as zeros.


    Attributes
    ----------
    user_embeddings_ : ndarray of float32, shape (n_users, d)
        P sqrt(S).
    item_embeddings_ : ndarray of float32, shape (n_items, d)
        Q sqrt(S).
    singular_values_ : ndarray of float32, shape (d,)
        S, largest first.
    history_ : list of one dict
        ``observed`` (mean squared error over the observed entries), ``unobserved`` (mean squared
        score over the unobserved pairs), ``total`` (the Frobenius objective ||A - U V^T||_F^2
        divided by n_users * n_items), ``explained_variance`` (sum S^2 / ||A||_F^2).
    """

    kind = "svd"
    param_spec = {
        "factors": Param("int", "Rank d of the approximation (embedding dimension).", low=1,
                         high=4096, log=True, size=True, tune=(2, 256)),
        "binary": Param("bool", "Factorize the 0/1 interaction matrix instead of the rating "
                        "values."),
        "random_state": Param("int", "Seed of the solver's starting vector (the result is "
                              "deterministic for a given seed).", low=0, tune=()),
    }

    def __init__(self, factors=16, binary=True, random_state=0):
        self.factors = factors
        self.binary = binary
        self.random_state = random_state

    def estimate_fit_bytes(self, n_users: int, n_items: int, nnz: int) -> int:
        """Peak bytes of a fit (see :meth:`Recommender.estimate_fit_bytes`): the float64 copy of
        the matrix; then either the dense matrix and LAPACK's full SVD of it (small matrices or
        ``factors`` near the rank) or ARPACK's Lanczos basis of about 2 ``factors`` + 1 vectors;
        the singular vectors and the float32 embeddings."""
        d, n_users, n_items, nnz = int(self.factors), int(n_users), int(n_items), int(nnz)
        rank = min(n_users, n_items)
        matrix = nnz * (FLOAT64 + INT32) + nnz * 3 * FLOAT64  # copy, A*A, rows, fitted values
        losses = min(nnz, LOSS_CHUNK) * d * 2 * (FLOAT32 + FLOAT64)
        if d >= rank - 1 or rank <= 64:
            solver = (3 * n_users * n_items + (n_users + n_items) * rank + rank) * FLOAT64
        else:
            solver = (2 * d + 1) * (n_users + n_items) * FLOAT64 + (2 * d + 1) ** 2 * FLOAT64
        vectors = 2 * (n_users + n_items) * d * FLOAT64 + (n_users + n_items) * d * FLOAT32
        return int(super().estimate_fit_bytes(n_users, n_items, nnz) + matrix + solver + vectors
                   + losses)

    def fit(self, data, *, validation=None, callback: ProgressCallback | None = None
            ) -> "SVDModel":
        """Compute the truncated SVD of a Dataset or sparse (n_users, n_items) matrix."""
        self.validate_params()
        matrix = self._start_fit(data)
        if self.binary:
            matrix = self.seen_
        n_users, n_items = matrix.shape
        rank_limit = min(n_users, n_items)
        if self.factors > rank_limit:
            raise HyperparameterError(f"factors must be <= {rank_limit} (the smaller side of the "
                                      f"{n_users} x {n_items} matrix), got {self.factors}")
        A = sp.csr_matrix(matrix, dtype=np.float64)
        # The solver's dense steps are small; multithreaded BLAS on them was measured 30x slower
        # than one thread on a busy 2-core machine (12.6 s versus 0.38 s on MovieLens 100K).
        with limit_threads(1):
            if self.factors >= rank_limit - 1 or rank_limit <= 64:
                # ARPACK needs k < min(shape); small matrices are cheaper dense anyway.
                P, S, Qt = np.linalg.svd(A.toarray(), full_matrices=False)
                P, S, Qt = P[:, :self.factors], S[:self.factors], Qt[:self.factors]
            else:
                v0 = np.random.default_rng(self.random_state).uniform(-1, 1, rank_limit)
                P, S, Qt = svds(A, k=self.factors, v0=v0)
                order = np.argsort(-S)
                P, S, Qt = P[:, order], S[order], Qt[order]
        # Singular vectors are defined up to sign: make each item vector's largest entry positive
        # so that the embeddings (and their 2-D maps) do not flip between runs.
        signs = np.sign(Qt[np.arange(len(S)), np.argmax(np.abs(Qt), axis=1)])
        signs[signs == 0] = 1.0
        P, Qt = P * signs, Qt * signs[:, None]
        root = np.sqrt(S)
        self.singular_values_ = S.astype(np.float32)
        self.user_embeddings_ = (P * root).astype(np.float32)
        self.item_embeddings_ = (Qt.T * root).astype(np.float32)

        total_sq = float(A.multiply(A).sum())
        residual = max(total_sq - float(np.sum(S ** 2)), 0.0)  # ||A - A_d||^2, exact for the SVD
        rows = np.repeat(np.arange(n_users), np.diff(A.indptr))
        fitted = np.empty(A.nnz)
        for start in range(0, A.nnz, LOSS_CHUNK):  # (chunk, d) gathers, not (nnz, d)
            part = slice(start, start + LOSS_CHUNK)
            fitted[part] = np.einsum("ij,ij->i",
                                     self.user_embeddings_[rows[part]].astype(np.float64),
                                     self.item_embeddings_[A.indices[part]].astype(np.float64))
        observed_sq = float(np.sum((A.data - fitted) ** 2))
        n_unobserved = max(n_users * n_items - A.nnz, 1)
        losses = {"observed": observed_sq / A.nnz,
                  "unobserved": max(residual - observed_sq, 0.0) / n_unobserved,
                  "total": residual / (n_users * n_items),
                  "explained_variance": float(np.sum(S ** 2)) / total_sq if total_sq else 0.0}
        self._end_epoch(1, 1, losses, validation, callback)
        return self

    def fold_in(self, items, ratings=None) -> np.ndarray:
        """Embedding of a new user by projection onto the item singular vectors.

        x = a Q S^(-1/2) = (sum_j a_j V_j) / S for the user's row a (ratings, or 1.0 each when
        omitted or when ``binary``); for a training user's own row this is exactly their
        embedding.

        Returns
        -------
        ndarray of float32, shape (d,)
        """
        self._check_fitted()
        idx, values = self._row(items, ratings, self.n_items_, "item")
        return self._project(idx, values, self.item_embeddings_)

    def fold_in_item(self, users, ratings=None) -> np.ndarray:
        """Embedding of a new item from the users who interacted with it (same projection with
        the user embeddings)."""
        self._check_fitted()
        idx, values = self._row(users, ratings, self.n_users_, "user")
        return self._project(idx, values, self.user_embeddings_)

    def _row(self, indices, ratings, n, kind):
        idx = np.atleast_1d(np.asarray(indices, dtype=np.int64))
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            bad = idx[(idx < 0) | (idx >= n)][0]
            raise IndexError(f"{kind} index {bad} out of range for {n} {kind}s")
        if ratings is None or self.binary:
            return idx, np.ones(len(idx))
        values = np.atleast_1d(np.asarray(ratings, dtype=np.float64))
        if values.shape != idx.shape:
            raise DataError(f"{len(values)} ratings for {len(idx)} {kind}s")
        return idx, values

    def _project(self, idx, values, embeddings):
        S = self.singular_values_.astype(np.float64)
        safe = np.where(S > 0, S, 1.0)
        x = values @ embeddings[idx].astype(np.float64) / safe
        return np.where(S > 0, x, 0.0).astype(np.float32)
